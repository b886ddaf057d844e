# The flagship on the toy dataset: toy-clip-dense (the toy CLIP whose patch tokens point at objects, the start of
# the toy DALNet) frozen as both towers, toy-dino (the DINO stand-in) for CARM, and the toy sizes of the parents:
# DALNet's toy prompts ("a photo of a boat.", background "a photo of nothing.": the corpus's grammar) and mask
# block (1 of 3), ECA's toy gamma 0.75 (toy-dino's keys; see configs/toy/eca_...) and PAR dilations, WeakCLIP's toy
# neck and decoder widths (pyramid from blocks 0, 1, 2, 2; losses at 28 x 28). 2k iterations and batch 8 as the
# toy DALNet and ECA; WeakCLIP's toy AdamW (1e-3, 100-iteration warm-up, cosine). `make toy-teachers` builds the
# teachers; the comparison with the parents:
#   python tools/analysis_tools/compare_methods.py \
#     projects/clip_dino/configs/clipdino_toy-clip-dense_toy-dino_1xb8-2k_toy-112x112.py --seeds 0 --no-retrain
_base_ = [
    './_base_/clipdino_vit-b16_dinov2-b14.py', '../../../configs/_base_/datasets/toy_voc.py',
    '../../../configs/_base_/default_runtime.py', '../../../configs/_base_/schedules/schedule_weakclip_adamw.py',
    '../../../configs/_base_/evaluators/seg_and_cam.py'
]
custom_imports = dict(imports=['mmseg_wsss'], allow_failed_imports=False)
toy_clip = 'data/toy_teachers/toy_clip_dense.pt'
toy_dino = 'data/toy_teachers/toy_dino.pth'
num_classes = 6
width = 128                 # toy-clip's width and joint space
norm_cfg = dict(type='BN', requires_grad=True)
toy_tower = dict(model_name='toy-clip', pretrained=toy_clip, quick_gelu=None)
model = dict(
    data_preprocessor=dict(size=(112, 112)),
    backbone=dict(toy_tower, out_indices=(0, 1, 2, 2), token_blocks=(1, )),
    encoders=dict(
        clip_text=dict(toy_tower, class_names=['boat', 'train', 'cow', 'bird', 'bottle'], n_ctx=4,
                       ctx_init='a photo of a', background_prompt='a photo of nothing.'),
        text=dict(toy_tower, class_names=['background', 'boat', 'train', 'cow', 'bird', 'bottle']),
        dino=dict(arch='toy-dino', checkpoint=toy_dino)),
    neck=dict(
        adapter=dict(embed_dim=width, norm_cfg=norm_cfg),
        matcher=dict(embed_dim=width, width=64, num_heads=2),
        fpn=dict(in_channels=[width + num_classes] * 4, out_channels=64)),
    cam_head=dict(in_channels=width, num_classes=num_classes - 1),
    decode_head=dict(in_channels=[64] * 4, channels=64, num_classes=num_classes, norm_cfg=norm_cfg),
    pseudo_labels=dict(
        object_mask=dict(tokens=1),
        carm=dict(gamma=0.75, memory=dict(num_classes=num_classes - 1, dim=width),
                  refine=dict(dilations=(1, 2, 4, 8)))),
    losses=dict(seed=dict(size=(28, 28)), boundary=dict(size=(28, 28))))
max_iters = 2000
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
test_dataloader = _base_.train_eval_dataloader
tta_model = dict(
    view_merge='max', crf_cfg=dict(n_iters=10, pos_sxy=1, pos_compat=1, bi_sxy=30, bi_srgb=5, bi_compat=4))
custom_hooks = [
    dict(type='ClassCountCheckHook'),
    dict(type='PseudoLabelQualityHook', interval=500, dataloader='train_eval_dataloader', num_images=64),
]
randomness = dict(seed=0)
toy_compare = dict(name='CLIP + DINO flagship (toy)', init=None)
