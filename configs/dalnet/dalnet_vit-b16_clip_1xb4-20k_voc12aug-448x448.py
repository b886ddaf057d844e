# DALNet on VOC trainaug: one GPU x 4 images (ToCo's launch; the supplementary times it on one RTX 3090), crop
# 448, random rescale 0.5-2.0, 20k iterations. Paper protocol (val 74.5): tools/test.py CONFIG CKPT --tta --crf
_base_ = [
    '../_base_/models/dalnet_vit-b16_clip.py', '../_base_/datasets/voc12_wsss.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_toco_adamw.py', '../_base_/evaluators/seg_and_cam.py',
    '../_base_/tta/toco_max_crf.py'
]
crop_size = (448, 448)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    # ToCo rescales each image by a factor in [0.5, 2.0] (VOC images are about 500 px): scale 500, ratio 0.5-2.0
    dict(type='RandomResize', scale=(500, 500), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
img_ratios = _base_.toco_img_ratios
tta_pipeline = _base_.toco_tta_pipeline  # ToCo's 3 scales x flip (configs/_base_/tta/toco_max_crf.py)
# ToCo's test: views merged by their maximum; the dense CRF of `tools/test.py --crf` with ToCo's parameters
tta_model = _base_.toco_tta_model
auto_scale_lr = dict(enable=False, base_batch_size=4)
