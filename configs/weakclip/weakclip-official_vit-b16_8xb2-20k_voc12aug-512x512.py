# WeakCLIP's released VOC network (hustvl/WeakCLIP), converted with tools/model_converters/weakclip2mmseg.py:
# the official code's layout, for inference with the converted file (configs/weakclip/README.md, "Official
# weights"). What differs from weakclip_vit-b16_8xb2-20k_voc12aug-512x512.py, each the official code's choice:
# * both CLIP towers built without weights (pretrained=None: the converted file carries them) at the official
#   sizes: a 512-px image grid (1025 position rows) and a 13-token text context (the file's tables load as is),
#   QuickGELU (OpenAI's activation);
# * blocks (3, 5, 7, 11) into the adapter; co-attention layers that each read the projected input
#   (chained=False) with one pair of input projections shared by both directions (shared_proj=True);
# * the prompts' class names as mmseg 0.x spelled VOC's classes (the learned context was trained with them);
# * ImageNet mean / std (the official data pipeline's).
# Pseudo masks as the official code made them (train split, multi-scale + flip, VOC's CRF; no Eq. 14 masking):
#   python tools/make_pseudo_labels.py THIS_CONFIG pretrained/weakclip_voc_mmseg.pth --source decoder --tta --crf \
#       --keep-absent --out-dir work_dirs/pseudo_labels/weakclip_official_voc12
_base_ = ['./weakclip_vit-b16_8xb2-20k_voc12aug-512x512.py', '../_base_/parts/weakclip_official.py']
official_vit_b16 = _base_.weakclip_official_clip
official_voc_names = [
    'background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
    'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor'
]
model = dict(
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
    backbone=dict(pretrained=None, model_cfg=official_vit_b16, quick_gelu=True, out_indices=(3, 5, 7, 11)),
    encoders=dict(text=dict(pretrained=None, model_cfg=official_vit_b16, quick_gelu=True,
                            class_names=official_voc_names)),
    neck=dict(matcher=dict(chained=False, shared_proj=True)))
# the official make_crf.py runs the CRF on the classes that win some pixel before it (the saved probabilities' keys)
pseudo_label_crf = dict(classes='predicted')
