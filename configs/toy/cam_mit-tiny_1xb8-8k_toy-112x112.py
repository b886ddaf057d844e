# Plain CAM (global average pooling) on the toy MiT of the AFA / ECA toy twins: how `make toy-teachers` makes
# toy-mit, the toy stand-in for ImageNet-pretrained MiT-B1 (8k iterations on a 2,000-image toy set of a seed no
# comparison uses; only the backbone is kept). A MiT trained from scratch with global max pooling does not leave
# the class-prior plateau within the toy schedule (0.62 loss after 1k iterations); with average pooling it does
# after about 1.5k.
_base_ = ['./afa_mit-tiny_1xb8-2k_toy-112x112.py']
model = dict(
    backbone=dict(init_cfg=None),  # from scratch: this is what makes toy-mit
    decode_head=None,
    pseudo_labels=None,
    cam_head=dict(pool='avg'),
    losses=dict(_delete_=True, cls=dict(type='CAMClassificationLoss', weight=1.0)),
    test_cfg=dict(source='cam', output_cams=False))
max_iters = 8000
val_interval = 8000
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=100, end=max_iters, by_epoch=False)
]
default_hooks = dict(checkpoint=dict(interval=val_interval, max_keep_ckpts=1))
custom_hooks = [dict(type='ClassCountCheckHook')]
toy_compare = None  # not a row: the pretraining of the AFA / ECA rows' backbone
