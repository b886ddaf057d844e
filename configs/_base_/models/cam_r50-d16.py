# CAM network: ResNet-50 at output stride 16 (IRNet's), global average pooling + 1x1 classifier.
# BN statistics and affine parameters stay frozen (IRNet's FixedBatchNorm); the stem and layer1 are frozen.
_base_ = ['../data_preprocessor.py']
norm_cfg = dict(type='BN', requires_grad=False)
data_preprocessor = dict(_base_.data_preprocessor, size=(512, 512))
model = dict(
    type='WSSSSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 1),
        frozen_stages=1,
        norm_cfg=norm_cfg,
        norm_eval=True,
        style='pytorch',
        # torchvision's ImageNet weights; offline, put resnet50-0676ba61.pth (or the file named in the error)
        # in ~/.cache/torch/hub/checkpoints/ or set this to a local path.
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    cam_head=dict(type='CAMHead', in_channels=2048, num_classes=20, pool='avg'),
    losses=dict(cls=dict(type='CAMClassificationLoss', weight=1.0)),  # multi-label soft margin
    test_cfg=dict(
        mode='whole',
        source='cam',
        bg_thr=0.15,  # IRNet's CAM evaluation threshold
        cam_scales=(1.0, 0.5, 1.5, 2.0),
        cam_flip=True))
