# AFA on the toy dataset: the same segmentor, pseudo labels and losses as configs/afa, with a CPU-sized MiT
# (widths 16/32/64/64, stage 4 at stride 8 so a 112 crop gives a 14 x 14 attention grid) loaded from toy-mit
# (`make toy-teachers`: the toy stand-in for ImageNet-pretrained MiT-B1), BN instead of SyncBN, a shorter schedule
# (classification only for the first quarter, as AFA's 2k of 20k is a tenth with a pretrained classifier start;
# affinity propagation from 1.2k) and AdamW at lr 1e-3 (the toy MiT is small and its pretraining short).
_base_ = [
    '../_base_/models/afa_mit-b1.py', '../_base_/datasets/toy_voc.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_afa_adamw.py', '../_base_/evaluators/seg_and_cam.py'
]
norm_cfg = dict(type='BN', requires_grad=True)
warm = 500       # classification only before this (AFA: 2000)
propagate = 1200  # affinity-propagated CAM labels from here (AFA: 6000)
model = dict(
    data_preprocessor=dict(size=(112, 112)),
    backbone=dict(embed_dims=16, num_layers=[1, 1, 1, 2], num_heads=[1, 2, 4, 4], strides=[4, 2, 1, 1],
                  sr_ratios=[4, 2, 1, 1], drop_path_rate=0.0,
                  init_cfg=dict(type='Pretrained', checkpoint='data/toy_teachers/toy_mit.pth')),
    cam_head=dict(in_channels=64, num_classes=5),
    heads=dict(affinity=dict(in_channels=8)),
    decode_head=dict(in_channels=[16, 32, 64, 64], channels=64, num_classes=6, norm_cfg=norm_cfg),
    pseudo_labels=dict(cam=dict(affinity_start_iter=propagate, refine=dict(dilations=(1, 2, 4, 8)))),
    losses=dict(seg=dict(start_iter=warm), aff=dict(radius=8, start_iter=warm)),
    test_cfg=dict(bg_thr=0.3))
max_iters = 2000
val_interval = 1000
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
optim_wrapper = dict(optimizer=dict(lr=1e-3), clip_grad=dict(max_norm=10.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=100, end=max_iters, by_epoch=False)
]
env_cfg = dict(cudnn_benchmark=False)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=val_interval, max_keep_ckpts=2),
    visualization=dict(type='SegVisualizationHook', draw=False))
test_dataloader = _base_.train_eval_dataloader
custom_hooks = [
    dict(type='ClassCountCheckHook'),
    dict(type='PseudoLabelQualityHook', interval=500, dataloader='train_eval_dataloader', num_images=64),
]
randomness = dict(seed=0)
# a row of tools/analysis_tools/compare_methods.py; a MiT, so its own start (not the shared ResNet CAM start)
toy_compare = dict(name='AFA', init=None)
