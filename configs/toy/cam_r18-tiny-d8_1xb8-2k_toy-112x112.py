# CAM baseline on the generated toy dataset; trains on CPU in a few minutes (make demo, tests).
_base_ = [
    '../_base_/models/cam_r18-tiny-d8.py', '../_base_/datasets/toy_voc.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_iter.py', '../_base_/evaluators/seg_and_cam.py'
]
# A CAM pseudo-label source, read by no loss term (so never computed in training), for the quality hook:
# its mIoU on 64 train images is logged every 500 iterations (pseudo_label/cam/mIoU).
model = dict(pseudo_labels=dict(cam=dict(type='CAMPseudoLabel', high_thr=0.3, low_thr=0.3)))
max_iters = 2000
val_interval = 1000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'cam_head': dict(lr_mult=10.0)}),
    clip_grad=dict(max_norm=10.0))
env_cfg = dict(cudnn_benchmark=False)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=val_interval, max_keep_ckpts=2),
    visualization=dict(type='SegVisualizationHook', draw=False))
test_dataloader = _base_.train_eval_dataloader
custom_hooks = [
    dict(type='ClassCountCheckHook'),
    dict(type='PseudoLabelQualityHook', interval=500, dataloader='train_eval_dataloader', num_images=64),
    dict(type='CAMVisualizationHook', interval=1000, dataloader='val_dataloader', num_images=4),
]
randomness = dict(seed=0)
