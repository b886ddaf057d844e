# WeakCLIP optimisation (paper Sec. 4.1 / official code): AdamW lr 1e-4, wd 3e-5; linear warm-up 1.5k iterations
# from 1e-6 x lr, then cosine to 1e-6. VOC: 20k iterations. The frozen CLIP towers are left out of the optimizer;
# the official code's lr_mult=0 on `backbone.*` (which also stops its pyramid adapter) is not copied.
_base_ = ['./schedule_iter.py']
max_iters = 20000
val_interval = 2000
warmup_iters = 1500
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='FrozenAwareOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=3e-5))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', eta_min=1e-6, T_max=max_iters - warmup_iters, by_epoch=False,
         begin=warmup_iters, end=max_iters)
]
default_hooks = dict(checkpoint=dict(interval=val_interval))
