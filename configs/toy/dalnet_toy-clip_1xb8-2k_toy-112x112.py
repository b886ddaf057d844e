# DALNet on the toy dataset with toy-clip (`make toy-teachers`: the CLIP trained here on toy image-text pairs,
# 3 blocks of width 128, patch 8, 128-d joint space) as the trained image tower and the frozen text tower, through
# the same loading path as the real weights. Toy-sized choices (not the paper's): the mask from the middle block
# (index 1 of 3; the paper's is the 10th of 12), background prompt "a photo of nothing." (the toy corpus's caption
# of an empty scene; toy-clip never saw "background"), class prompts in the corpus's grammar ("a photo of a
# boat."), a LargeFOV decoder of width 64 with dilation 2 on the 14 x 14 grid, the segmentation term and PAR
# dilations of the toy AFA config, AdamW 1e-4 (new layers 1e-3) with a 100-iteration warm-up, 2k iterations.
_base_ = [
    '../_base_/models/dalnet_vit-b16_clip.py', '../_base_/datasets/toy_voc.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_toco_adamw.py', '../_base_/evaluators/seg_and_cam.py'
]
toy_clip = 'data/toy_teachers/toy_clip.pt'
warm = 500  # segmentation from here (DALNet: 2000 of 20k)
model = dict(
    data_preprocessor=dict(size=(112, 112)),
    backbone=dict(model_name='toy-clip', pretrained=toy_clip, quick_gelu=None, token_blocks=(1, )),
    encoders=dict(clip_text=dict(model_name='toy-clip', pretrained=toy_clip, quick_gelu=None,
                                 class_names=['boat', 'train', 'cow', 'bird', 'bottle'], templates='single',
                                 background_prompt='a photo of nothing.')),
    cam_head=dict(in_channels=128, num_classes=5),
    decode_head=dict(in_channels=128, channels=64, dilation=2, num_classes=6),
    pseudo_labels=dict(object_mask=dict(tokens=1), cam=dict(refine=dict(dilations=(1, 2, 4, 8)))),
    losses=dict(seg=dict(start_iter=warm + 1)),
    test_cfg=dict(bg_thr=0.5))
max_iters = 2000
val_interval = 1000
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
optim_wrapper = dict(optimizer=dict(lr=1e-4), clip_grad=dict(max_norm=10.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=100, end=max_iters, by_epoch=False)
]
env_cfg = dict(cudnn_benchmark=False)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=val_interval, max_keep_ckpts=2),
    visualization=dict(type='SegVisualizationHook', draw=False))
test_dataloader = _base_.train_eval_dataloader
# ToCo's max merging; its CRF with a bilateral range for 128 px images (121 is for ~500 px)
tta_model = dict(
    view_merge='max', crf_cfg=dict(n_iters=10, pos_sxy=1, pos_compat=1, bi_sxy=30, bi_srgb=5, bi_compat=4))
custom_hooks = [
    dict(type='ClassCountCheckHook'),
    dict(type='PseudoLabelQualityHook', interval=500, dataloader='train_eval_dataloader', num_images=64),
]
randomness = dict(seed=0)
# a row of tools/analysis_tools/compare_methods.py: a CLIP tower, so its own start (not the shared ResNet CAM)
toy_compare = dict(name='DALNet (toy-clip)', init=None)
