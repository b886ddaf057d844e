# ECA (Wu et al., ACM MM 2024) on the AFA base: a frozen DINO ViT-S/8 shared encoder, CARM pseudo labels seeded by
# the CAMs and calibrated by momentum prototypes (Eqs. 3-10), CAM correspondence between global and local views
# (Eq. 11), the total loss of Eq. 12. Paper defaults; the official code's choices are options
# (configs/eca/README.md lists every difference).
_base_ = ['./afa_mit-b1.py']
# DINO ViT-S/8 (https://dl.fbaipublicfiles.com/dino/dino_deitsmall8_pretrain/dino_deitsmall8_pretrain.pth)
dino_checkpoint = 'pretrained/dino_deitsmall8_pretrain.pth'
lambda1, lambda2, lambda3 = 0.1, 0.1, 0.1  # Eq. 12, VOC
warmup = 2000  # "2k iterations warmed up for the classifiers"
model = dict(
    encoders=dict(dino=dict(type='DINOViTEncoder', arch='vit-s8', checkpoint=dino_checkpoint)),
    pseudo_labels=dict(
        # ECA's CAM pseudo labels are AFA's; the paper does not use affinity propagation for them (the code
        # switches to it at 6k): affinity=None keeps the paper's
        cam=dict(affinity=None),
        carm=dict(
            type='CARMPseudoLabel',
            encoder='dino',
            seeds='cam',
            scales=(1.0, 0.5),
            top_k=0.3,
            gamma=0.15,
            memory=dict(num_classes=20, dim=512, momentum=0.99),
            refine=dict(type='PAR'),
            refine_scale=0.5)),
    losses=dict(
        _delete_=True,
        cls=dict(type='CAMClassificationLoss', weight=1.0),
        # lambda1 (L_seg + L~seg): the decoder learns from the CAM and the CARM pseudo labels
        seg_cam=dict(type='DecodeLoss', labels='cam', weight=lambda1, start_iter=warmup),
        seg_carm=dict(type='DecodeLoss', labels='carm', weight=lambda1, start_iter=warmup),
        # lambda2 L_corr (Eq. 11)
        corr=dict(type='CAMCorrespondenceLoss', labels='cam', num_views=2, view_size=256, grid=64, form='js',
                  weight=lambda2, start_iter=warmup),
        # lambda3 L_aff: the paper supervises the affinity with the CARM labels
        aff=dict(type='AffinityFromAttentionLoss', affinity='affinity', radius=8, labels='carm', weight=lambda3,
                 start_iter=warmup)))
