# WeakCLIP on COCO 2014 (Sec. 4.1): 40k iterations, batch 24 (4 GPUs x 6), crop 512; the VOC recipe otherwise.
# 81 contiguous classes ("background" + the 80 thing names in label order): the official code prompts from the
# 91-entry COCO id list, which misaligns names and labels (a bug, not copied).
_base_ = [
    '../_base_/models/weakclip_vit-b16.py', '../_base_/datasets/coco14_wsss.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_weakclip_adamw.py', '../_base_/evaluators/seg.py',
    '../_base_/tta/weakclip_msf.py'
]
num_classes = 81
seed_dir = 'work_dirs/seeds/coco14'  # a PNG per training image (the paper: MCTformer's seeds)
model = dict(
    encoders=dict(text=dict(class_names='coco14_bg')),
    neck=dict(fpn=dict(in_channels=[768 + num_classes] * 4)),
    decode_head=dict(num_classes=num_classes))
crop_size = (512, 512)
train_pipeline = [  # as VOC's (configs/weakclip/*voc12aug*)
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),  # the seeds
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(batch_size=6, dataset=dict(pseudo_label_dir=seed_dir, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
max_iters = 40000
val_interval = 4000
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='CosineAnnealingLR', eta_min=1e-6, T_max=max_iters - 1500, by_epoch=False, begin=1500,
         end=max_iters)
]
default_hooks = dict(checkpoint=dict(interval=val_interval))
# the paper's total batch (4 GPUs x 6); on fewer GPUs keep it (README, "Fewer GPUs than the paper")
auto_scale_lr = dict(enable=False, base_batch_size=24)
# the pseudo masks' test-time views and CRF (official code, COCO): `make_pseudo_labels.py --source decoder --tta --crf`
tta_pipeline = _base_.weakclip_tta_pipeline
pseudo_label_crf = dict(pos_sxy=1, pos_compat=3, bi_sxy=67, bi_srgb=3, bi_compat=4)
