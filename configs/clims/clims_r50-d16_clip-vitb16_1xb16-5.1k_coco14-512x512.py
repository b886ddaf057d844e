# CLIMS on COCO 2014 (not reported in the paper): 80 classes with CLIP names, no co-occurring background sets
# (none are defined for COCO; L_CBS is then 0), one epoch at batch 16 (5,130 iterations).
_base_ = [
    '../_base_/models/clims_r50-d16_clip-vitb16.py', '../_base_/datasets/coco14_wsss.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_iter.py'
]
load_from = 'work_dirs/cam_r50-d16_1xb16-6.2k_coco14-512x512/iter_6200.pth'
model = dict(
    cam_head=dict(num_classes=80),
    encoders=dict(clip_text=dict(class_names='coco14', bg_prompts=None)))
max_iters = 5130
val_interval = 2565
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_iters, eta_min=0.0, begin=0, end=max_iters,
                        by_epoch=False)]
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='FrozenAwareOptimWrapperConstructor',
    optimizer=dict(type='SGD', lr=2.5e-4, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'cam_head': dict(lr_mult=10.0)}))
default_hooks = dict(checkpoint=dict(interval=val_interval))
val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']), dict(type='CAMMetric')]
test_dataloader = _base_.train_eval_dataloader
test_evaluator = [dict(type='CAMMetric'), dict(type='IoUMetric', iou_metrics=['mIoU'])]
