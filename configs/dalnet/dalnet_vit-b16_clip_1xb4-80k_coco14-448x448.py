# DALNet on COCO 2014 (80 classes): ToCo's COCO schedule, 80k iterations, crop 448, the segmentation term from
# 2k as on VOC (the paper's COCO settings are unknown). Paper protocol (val 44.4): tools/test.py CONFIG CKPT --tta --crf
_base_ = [
    '../_base_/models/dalnet_vit-b16_clip.py', '../_base_/datasets/coco14_wsss.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_toco_adamw.py', '../_base_/evaluators/seg_and_cam.py',
    '../_base_/tta/toco_max_crf.py'
]
crop_size = (448, 448)
model = dict(
    encoders=dict(clip_text=dict(class_names='coco14')),
    cam_head=dict(num_classes=80),
    decode_head=dict(num_classes=81))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResize', scale=(640, 640), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
img_ratios = _base_.toco_img_ratios
tta_pipeline = _base_.toco_tta_pipeline  # ToCo's 3 scales x flip (configs/_base_/tta/toco_max_crf.py)
max_iters = 80000
val_interval = 8000
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 6e-5, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=1500, end=max_iters, by_epoch=False)
]
default_hooks = dict(checkpoint=dict(interval=val_interval))
# ToCo's test: views merged by their maximum; the dense CRF of `tools/test.py --crf` with ToCo's parameters
tta_model = _base_.toco_tta_model
auto_scale_lr = dict(enable=False, base_batch_size=4)
