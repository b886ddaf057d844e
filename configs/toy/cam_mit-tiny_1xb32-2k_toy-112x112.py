# Plain CAM (global average pooling) on the toy MiT of the AFA / ECA toy twins: how `make toy-teachers` makes
# toy-mit, the toy stand-in for ImageNet-pretrained MiT-B1 (2k iterations of batch 32 on a 2,000-image toy set of
# a seed no comparison uses; only the backbone is kept).
# Batch 32, not the twins' 8: measured on the 600-image toy set from scratch, batch 8 stays on the class-prior
# plateau (loss ~0.62) for ~1.4k iterations and ends at loss 0.36 / val CAM mIoU 24.9 after 2k; batch 32 leaves it
# after ~150 and reaches loss 0.11 / val CAM mIoU 33.3 after 800. With global max pooling a MiT from scratch
# does not leave the plateau within the toy schedule.
_base_ = ['./afa_mit-tiny_1xb8-2k_toy-112x112.py']
model = dict(
    backbone=dict(init_cfg=None),  # from scratch: this is what makes toy-mit
    decode_head=None,
    pseudo_labels=None,
    cam_head=dict(pool='avg'),
    losses=dict(_delete_=True, cls=dict(type='CAMClassificationLoss', weight=1.0)),
    test_cfg=dict(source='cam', output_cams=False))
train_dataloader = dict(batch_size=32)
max_iters = 2000
val_interval = 2000
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=100, end=max_iters, by_epoch=False)
]
default_hooks = dict(checkpoint=dict(interval=val_interval, max_keep_ckpts=1))
custom_hooks = [dict(type='ClassCountCheckHook')]
toy_compare = None  # not a row: the pretraining of the AFA / ECA rows' backbone
