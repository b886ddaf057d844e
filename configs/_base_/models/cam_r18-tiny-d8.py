# A CPU-sized CAM network for the toy dataset: ResNet-18 layout with 16 base channels (128 output channels),
# output stride 8, randomly initialised, trainable BN. Same head and segmentor as the real configs.
_base_ = ['../data_preprocessor.py']
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(_base_.data_preprocessor, size=(112, 112))
model = dict(
    type='WSSSSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNet',
        depth=18,
        stem_channels=16,
        base_channels=16,
        num_stages=4,
        out_indices=(3, ),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch'),
    cam_head=dict(type='CAMHead', in_channels=128, num_classes=5, pool='avg'),
    losses=dict(cls=dict(type='CAMClassificationLoss', weight=1.0)),  # multi-label soft margin
    test_cfg=dict(mode='whole', source='cam', bg_thr=0.3, cam_scales=(1.0, ), cam_flip=False))
