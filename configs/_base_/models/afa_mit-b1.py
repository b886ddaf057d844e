# AFA (Ru et al., CVPR 2022) as a WSSSSegmentor: MiT-B1 exposing its stage-4 attention, a global-max-pooling CAM
# head, online CAM pseudo labels (multi-scale + flip, min-max, 0.55 / 0.35 band after PAR at half resolution;
# propagated along the learnt affinity from 6k iterations), the affinity-from-attention loss and a SegFormer MLP
# decoder. Paper values; the official code's differences are options (configs/afa/README.md).
_base_ = ['../data_preprocessor.py']
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(_base_.data_preprocessor, size=(512, 512))
# ImageNet-1k MiT-B1 in mmseg's key layout (download from mmseg's model zoo, see configs/afa/README.md)
mit_b1_checkpoint = 'pretrained/mit_b1_20220624-02e5a6a1.pth'
model = dict(
    type='WSSSSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='MixVisionTransformerWithAttn',
        in_channels=3,
        embed_dims=64,
        num_stages=4,
        num_layers=[2, 2, 2, 2],
        num_heads=[1, 2, 5, 8],
        patch_sizes=[7, 3, 3, 3],
        strides=[4, 2, 2, 1],  # stage 4 at stride 16, as AFA
        sr_ratios=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        mlp_ratio=4,
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
        attn_stage=-1,
        init_cfg=dict(type='Pretrained', checkpoint=mit_b1_checkpoint)),
    cam_head=dict(type='CAMHead', in_channels=512, num_classes=20, pool='max'),
    # Eq. 2's learnt affinity: a 1x1 conv over the symmetrised stage-4 attention (2 layers x 8 heads)
    heads=dict(affinity=dict(type='AttentionAffinityHead', in_channels=16)),
    decode_head=dict(
        type='SegformerHead',
        in_channels=[64, 128, 320, 512],
        in_index=[0, 1, 2, 3],
        channels=256,
        dropout_ratio=0.1,
        num_classes=21,
        norm_cfg=norm_cfg,
        align_corners=False,
        # the paper's plain CE; the official code's bg/fg-balanced CE: dict(type='BgFgBalancedCrossEntropyLoss')
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    pseudo_labels=dict(
        cam=dict(
            type='CAMPseudoLabel',
            high_thr=0.55,
            low_thr=0.35,
            scales=(1.0, 0.5, 1.5),
            flip=True,
            flip_merge='max',
            norm='minmax',
            refine=dict(type='PAR', dilations=(1, 2, 4, 8, 12, 24), num_iter=10, w1=0.3, w2=0.01),
            refine_scale=0.5,
            affinity='affinity',
            affinity_start_iter=6000,
            affinity_radius=8)),
    losses=dict(
        cls=dict(type='CAMClassificationLoss', weight=1.0),
        seg=dict(type='DecodeLoss', labels='cam', weight=0.1, start_iter=2000),
        aff=dict(type='AffinityFromAttentionLoss', affinity='affinity', radius=8, labels='cam', weight=0.1,
                 start_iter=2000)),
    # CAMs are also attached to the decoder's predictions, so CAMMetric and the pseudo-label tools read them
    test_cfg=dict(mode='whole', source='decoder', bg_thr=0.45, output_cams=True))
