# Plain CAM baseline on COCO 2014: 80 foreground classes; 1 epoch of 82,081 images at batch 16 (~5.1k) is the
# usual budget for COCO CAMs; we use 6.2k (~1.2 epochs) with the VOC recipe otherwise.
_base_ = [
    '../_base_/models/cam_r50-d16.py', '../_base_/datasets/coco14_wsss.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_iter.py', '../_base_/evaluators/seg_and_cam.py'
]
model = dict(cam_head=dict(num_classes=80))
max_iters = 6200
val_interval = 3100
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.0, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'cam_head': dict(lr_mult=10.0)}))
default_hooks = dict(checkpoint=dict(interval=val_interval))
test_dataloader = _base_.train_eval_dataloader
# the paper's total batch (1 GPU x 16); on fewer GPUs keep it (README, "Fewer GPUs than the paper")
auto_scale_lr = dict(enable=False, base_batch_size=16)
