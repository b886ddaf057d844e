# ECA on VOC trainaug as in the paper (Sec. 4.1): 18k iterations, batch 8 (2 GPUs x 4, the official code's 4 per
# GPU), crop 512, 2k classifier warm-up, lambda 0.1 / 0.1 / 0.1, k 0.3, gamma 0.15, local views 256.
# bash tools/dist_train.sh configs/eca/eca_mit-b1_dino-vits8_2xb4-18k_voc12aug-512x512.py 2
# Test: python tools/test.py CONFIG CKPT --tta --crf  (multi-scale + flip, dense CRF: the paper's inference)
_base_ = [
    '../_base_/models/eca_mit-b1_dino-vits8.py', '../_base_/datasets/voc12_wsss.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_afa_adamw.py', '../_base_/evaluators/seg_and_cam.py'
]
train_dataloader = dict(batch_size=4)
max_iters = 18000
train_cfg = dict(max_iters=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 6e-5, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=max_iters, by_epoch=False)
]
optim_wrapper = dict(constructor='FrozenAwareOptimWrapperConstructor')  # the frozen DINO is left out
custom_hooks = [
    # CARM vs CAM pseudo-label quality during training (pseudo_label/{cam,carm}/mIoU)
    dict(type='PseudoLabelQualityHook', interval=2000, dataloader='train_eval_dataloader', num_images=200),
]
# the paper's total batch (2 GPUs x 4); on fewer GPUs keep it (README, "Fewer GPUs than the paper")
auto_scale_lr = dict(enable=False, base_batch_size=8)
