# ToCo's optimisation (rulixiang/ToCo; DALNet's known settings follow ToCo's): AdamW lr 6e-5, wd 0.01, the new
# layers (CAM classifier, decoder) at 10x, linear warm-up 1500 iterations from 1e-6, then poly (power 0.9).
max_iters = 20000
val_interval = 2000
warmup_iters = 1500
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'cam_head': dict(lr_mult=10.0),
        'decode_head': dict(lr_mult=10.0),
        'encoders': dict(lr_mult=10.0),  # a learnable background embedding, when there is one
    }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 6e-5, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=warmup_iters, end=max_iters, by_epoch=False)
]
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=val_interval, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
