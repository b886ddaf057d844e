# The flagship on VOC 2012 trainaug: frozen CLIP ViT-B/16 + frozen DINOv2 ViT-B/14, one stage (see
# _base_/clipdino_vit-b16_dinov2-b14.py). WeCLIP's one-GPU setting (batch 4, 30k iterations; WeCLIP reports 4.5 h
# and 6.2 GB on one RTX 3090), DALNet's data (ToCo's rescale 0.5-2.0 of 500 px, crop 448, flip), WeakCLIP's AdamW
# (1e-4, wd 3e-5, warm-up 1.5k, cosine to 1e-6) with the classifier at 10x (ToCo's new layers).
#   python tools/train.py projects/clip_dino/configs/clipdino_vit-b16_dinov2-b14_1xb4-30k_voc12aug-448x448.py
#   python tools/test.py THIS_CONFIG CKPT --tta --crf     (ToCo's test, as DALNet)
_base_ = [
    './_base_/clipdino_vit-b16_dinov2-b14.py', '../../../configs/_base_/datasets/voc12_wsss.py',
    '../../../configs/_base_/default_runtime.py', '../../../configs/_base_/schedules/schedule_weakclip_adamw.py',
    '../../../configs/_base_/evaluators/seg_and_cam.py', '../../../configs/_base_/tta/toco_max_crf.py'
]
custom_imports = dict(imports=['mmseg_wsss'], allow_failed_imports=False)
crop_size = (448, 448)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResize', scale=(500, 500), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
max_iters = 30000
val_interval = 3000
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'cam_head': dict(lr_mult=10.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='CosineAnnealingLR', eta_min=1e-6, T_max=max_iters - 1500, by_epoch=False, begin=1500, end=max_iters)
]
default_hooks = dict(checkpoint=dict(interval=val_interval))
img_ratios = _base_.toco_img_ratios
tta_pipeline = _base_.toco_tta_pipeline
tta_model = _base_.toco_tta_model
auto_scale_lr = dict(enable=False, base_batch_size=4)
