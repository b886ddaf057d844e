# CLIMS on COCO 2014. The paper reports no COCO setting, so this follows the official code's COCO README: the
# code-style model (ViT-B/32, code loss forms, the shared list of 88 COCO background words, CBS threshold 0.285),
# weights 2 / 14 / 1.25 / 0.2, 8 epochs at batch 16 (82,081 images: 41,040 iterations), lr 5e-4, poly.
_base_ = [
    '../_base_/models/clims_r50-d16_clip-vitb32_code.py', '../_base_/datasets/coco14_wsss.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_iter.py',
    '../_base_/evaluators/seg_and_cam.py'
]
load_from = 'work_dirs/cam_r50-d16_1xb16-6.2k_coco14-512x512/iter_6200.pth'
model = dict(
    cam_head=dict(num_classes=80),
    encoders=dict(clip_text=dict(class_names='coco14', bg_prompts='clims_code_coco14')),
    losses=dict(clims=dict(alpha=2.0, beta=14.0, gamma=1.25, delta=0.2, cbs_thr=0.285)))
max_iters = 41040
val_interval = 5130
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='FrozenAwareOptimWrapperConstructor',
    optimizer=dict(type='SGD', lr=5e-4, momentum=1e-4, weight_decay=0.0),  # the code's PolyOptimizer, see VOC
    paramwise_cfg=dict(custom_keys={'cam_head': dict(lr_mult=10.0)}))
default_hooks = dict(checkpoint=dict(interval=val_interval))
test_dataloader = _base_.train_eval_dataloader
# the paper's total batch (1 GPU x 16); on fewer GPUs keep it (README, "Fewer GPUs than the paper")
auto_scale_lr = dict(enable=False, base_batch_size=16)
