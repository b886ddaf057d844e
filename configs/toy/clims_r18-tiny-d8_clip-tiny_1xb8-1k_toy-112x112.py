# CLIMS on the toy dataset with a tiny, randomly initialised CLIP (same code paths as ViT-B/16): checks
# plumbing and gradients on CPU, not the paper's gain (a random CLIP knows nothing). Start it from the toy CAM
# baseline: --cfg-options load_from=work_dirs/.../iter_2000.pth (tools/analysis_tools/clims_vs_cam_toy.py does).
_base_ = ['./cam_r18-tiny-d8_1xb8-2k_toy-112x112.py']
tiny_clip = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=32, layers=2, width=32, patch_size=8, head_width=16),
    text_cfg=dict(context_length=32, vocab_size=49408, width=32, heads=2, layers=2))
toy_names = ['boat', 'train', 'cow', 'bird', 'bottle']
model = dict(
    # A random teacher has no weights file to be rebuilt from, so it is saved in the checkpoints
    # (in_checkpoint=True); a teacher loaded from `pretrained` is not (the default).
    encoders=dict(
        clip_image=dict(type='OpenCLIPImageEncoder', model_name='tiny', pretrained=None, model_cfg=tiny_clip,
                        in_checkpoint=True),
        clip_text=dict(
            type='OpenCLIPTextEncoder',
            model_name='tiny',
            pretrained=None,
            model_cfg=tiny_clip,
            class_names=toy_names,
            templates='clims',
            bg_prompts=dict(boat=['water', 'river'], train=['railroad', 'railway'], cow=['grass']),
            in_checkpoint=True)),
    cam_head=dict(_delete_=True, type='SigmoidCAMHead', in_channels=128, num_classes=5),
    # the pseudo labels read ReLU CAMs (as CLIMS's code does); a sigmoid head's 'cams' are sigmoid maps, so
    # they are read from its logits (ReLU'd), the same maps as the CAM baseline's
    pseudo_labels=dict(cam=dict(cams='cam_logits')),
    losses=dict(
        _delete_=True,
        clims=dict(type='CLIMSLoss', image_encoder='clip_image', text_encoder='clip_text',
                   alpha=10.0, beta=25.0, gamma=29.5, delta=1.15, variant='paper')))
max_iters = 1000
val_interval = 1000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_iters, eta_min=0.0, begin=0, end=max_iters,
                        by_epoch=False)]
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='FrozenAwareOptimWrapperConstructor',
    optimizer=dict(type='SGD', lr=2.5e-3, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'cam_head': dict(lr_mult=10.0)}))
default_hooks = dict(checkpoint=dict(interval=val_interval))
