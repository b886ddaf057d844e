# Plain CAM baseline (IRNet's recipe): 5 epochs of VOC trainaug (10,582 / 16 x 5 = 3,310 iterations),
# SGD lr 0.1 (10x on the classifier), weight decay 1e-4, poly 0.9.
_base_ = [
    '../_base_/models/cam_r50-d16.py', '../_base_/datasets/voc12_wsss.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_iter.py', '../_base_/evaluators/seg_and_cam.py'
]
max_iters = 3310
val_interval = 1655
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.0, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'cam_head': dict(lr_mult=10.0)}))
default_hooks = dict(checkpoint=dict(interval=val_interval))
# `tools/test.py` measures CAM quality on the train split (the WSSS convention for CAMs).
test_dataloader = _base_.train_eval_dataloader
# the paper's total batch (1 GPU x 16); on fewer GPUs keep it (README, "Fewer GPUs than the paper")
auto_scale_lr = dict(enable=False, base_batch_size=16)
