# WeakCLIP's released COCO network (hustvl/WeakCLIP), converted with tools/model_converters/weakclip2mmseg.py:
# the VOC official layout (weakclip-official_*_voc12aug-*.py, where every difference is listed) with COCO's 91
# output slots, as the official code has them: 91 prompts from the official name list (background and COCO's
# category ids 1-90, 10 of which name no COCO 2014 category: 'street sign', 'hat', 'shoe', ...). The official
# masks (data/parse_coco.py: the index in [0] + getCatIds()) and seeds are contiguous labels 0-80, so channel c
# was trained for label c whatever its prompt says (from channel 12 on, prompt and label differ: the misalignment
# configs/weakclip/README.md lists); channels 81-90 were never a label. The score map of all 91 feeds the FPN, so
# the slots stay in the network; at prediction channels 0-80 are kept (test_cfg.keep_channels), which are this
# project's contiguous COCO labels. Inference only (a model with keep_channels does not train).
_base_ = ['./weakclip_vit-b16_4xb6-40k_coco14-512x512.py', '../_base_/parts/weakclip_official.py']
official_vit_b16 = _base_.weakclip_official_clip
official_coco_slots = [
    'background', 'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat',
    'traffic light', 'fire hydrant', 'street sign', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog',
    'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'hat', 'backpack', 'umbrella', 'shoe',
    'eye glasses', 'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
    'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle', 'plate', 'wine glass',
    'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot',
    'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant', 'bed', 'mirror', 'dining table',
    'window', 'desk', 'toilet', 'door', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone', 'microwave',
    'oven', 'toaster', 'sink', 'refrigerator', 'blender', 'book', 'clock', 'vase', 'scissors', 'teddy bear',
    'hair drier', 'toothbrush'
]
coco_keep_channels = list(range(81))  # the trained channels: labels 0-80
num_slots = 91
model = dict(
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
    backbone=dict(pretrained=None, model_cfg=official_vit_b16, quick_gelu=True, out_indices=(3, 5, 7, 11)),
    encoders=dict(text=dict(pretrained=None, model_cfg=official_vit_b16, quick_gelu=True,
                            class_names=official_coco_slots)),
    neck=dict(matcher=dict(chained=False, shared_proj=True), fpn=dict(in_channels=[768 + num_slots] * 4)),
    decode_head=dict(num_classes=num_slots),
    test_cfg=dict(keep_channels=coco_keep_channels))
# the official make_crf.py runs the CRF on the classes that win some pixel before it (the saved probabilities' keys)
pseudo_label_crf = dict(classes='predicted')
