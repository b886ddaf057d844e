# WeakCLIP on the toy dataset with toy-clip (`make toy-teachers`: the CLIP trained here on toy image-text pairs,
# 3 blocks of width 128, patch 8), loaded through the same path as the real weights. Toy-sized choices (not the
# paper's): block features (0, 1, 2, 2) (4 pyramid levels from 3 blocks), widths 128 / 64, co-attention width
# 64 with 2 heads, losses at 28 x 28 (the decoder's own stride-4 grid of a 112 crop; the paper's 64 x 64 is
# stride 8 of 512), AdamW 1e-3 (1e-4 in the paper) with a 100-iteration warm-up, 1k iterations, whole-image test.
# Seeds: a PNG folder of tools/make_pseudo_labels.py for a toy model (`seed_dir`), e.g. the toy CAM baseline's.
_base_ = [
    '../_base_/models/weakclip_vit-b16.py', '../_base_/datasets/toy_voc.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_weakclip_adamw.py', '../_base_/evaluators/seg.py'
]
toy_clip = 'data/toy_teachers/toy_clip.pt'
num_classes = 6
norm_cfg = dict(type='BN', requires_grad=True)
seed_dir = 'work_dirs/toy_seeds'
model = dict(
    data_preprocessor=dict(size=(112, 112)),
    # quick_gelu=None: toy-clip's own activation (GELU, as it was trained), not the base's OpenAI QuickGELU
    backbone=dict(model_name='toy-clip', pretrained=toy_clip, quick_gelu=None, out_indices=(0, 1, 2, 2)),
    encoders=dict(text=dict(model_name='toy-clip', pretrained=toy_clip, quick_gelu=None,
                            class_names=['background', 'boat', 'train', 'cow', 'bird', 'bottle'])),
    neck=dict(
        adapter=dict(embed_dim=128, norm_cfg=norm_cfg),
        matcher=dict(embed_dim=128, width=64, num_heads=2),
        fpn=dict(in_channels=[128 + num_classes] * 4, out_channels=64)),
    decode_head=dict(in_channels=[64] * 4, channels=64, num_classes=num_classes, norm_cfg=norm_cfg),
    losses=dict(seed=dict(size=(28, 28)), boundary=dict(size=(28, 28))),
    test_cfg=dict(mode='whole'))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),  # the seeds
    dict(type='RandomResize', scale=(128, 128), ratio_range=(0.8, 1.2), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(112, 112), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(dataset=dict(pseudo_label_dir=seed_dir, pipeline=train_pipeline))
max_iters = 1000
val_interval = 1000
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min=1e-6, T_max=max_iters - 100, by_epoch=False, begin=100, end=max_iters)
]
env_cfg = dict(cudnn_benchmark=False)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=val_interval, max_keep_ckpts=1),
    visualization=dict(type='SegVisualizationHook', draw=False))
randomness = dict(seed=0)
# a row of tools/analysis_tools/compare_methods.py: trained on the plain CAM row's CRF pseudo labels
toy_compare = dict(name='WeakCLIP (toy-clip)', seeds='CAM')
