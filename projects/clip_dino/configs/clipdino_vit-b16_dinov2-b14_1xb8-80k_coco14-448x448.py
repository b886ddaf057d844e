# The flagship on COCO 2014 (80 classes): the VOC recipe with COCO's prompts and classes, batch 8 and 80k
# iterations (WeCLIP's COCO schedule, on one GPU), ToCo's 640-px rescale as DALNet's COCO config. WeakCLIP's text
# has 81 prompts here ("background" + the 80 names), so the FPN levels carry 768 + 81 channels.
#   python tools/train.py projects/clip_dino/configs/clipdino_vit-b16_dinov2-b14_1xb8-80k_coco14-448x448.py
_base_ = [
    './_base_/clipdino_vit-b16_dinov2-b14.py', '../../../configs/_base_/datasets/coco14_wsss.py',
    '../../../configs/_base_/default_runtime.py', '../../../configs/_base_/schedules/schedule_weakclip_adamw.py',
    '../../../configs/_base_/evaluators/seg_and_cam.py', '../../../configs/_base_/tta/toco_max_crf.py'
]
custom_imports = dict(imports=['mmseg_wsss'], allow_failed_imports=False)
crop_size = (448, 448)
num_classes = 81
model = dict(
    encoders=dict(clip_text=dict(class_names='coco14'), text=dict(class_names='coco14_bg')),
    neck=dict(fpn=dict(in_channels=[768 + num_classes] * 4)),
    cam_head=dict(num_classes=num_classes - 1),
    decode_head=dict(num_classes=num_classes),
    pseudo_labels=dict(carm=dict(memory=dict(num_classes=num_classes - 1))))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResize', scale=(640, 640), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
max_iters = 80000
val_interval = 8000
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
auto_scale_lr = dict(enable=False, base_batch_size=8)
