# The flagship's model (ours; the family of WeCLIP / WeCLIP+: frozen CLIP and DINO, one training stage), made of
# the papers' parts without new modules:
#   frozen CLIP ViT-B/16 image tower (backbone) ----------------------------------------------.
#     |-- final projected patch tokens x prompts of `clip_text` -> patch-text CAMs (DALNet's TextCAMHead,   |
#     |      read from the backbone: feats_from='backbone', text_from='clip_text')                         |
#     |-- CAMs -> CARM with frozen DINOv2's key affinity + foreground cue (ECA's CARMPseudoLabel)          |
#     |      -> the decoder's labels                                                                       |
#     '-- blocks 3/6/9/12 -> WeakCLIP's adapter, co-attention with the `text` prompts, text-guided FPN ---'
#            -> FPNHead, trained on the CARM labels with WeakCLIP's seed loss (Eq. 12) and CRF loss (Eq. 13)
#   DALNet's GIA / LEA / cross-contrastive terms align the frozen tower's tokens with `clip_text`'s learnable
#   prompts (the CAMs' text): with both towers frozen, the prompts (initialised as DALNet's fixed "a photo of
#   {}." and its background prompt) are the trainable side of the alignment, so the CAMs move with them.
# Every weight and threshold is its paper's default (DALNet's beta 0.5 and lambdas 1; ECA's top-k 0.3, gamma
# 0.15, scales 1.0 / 0.5, momentum 0.99; WeakCLIP's losses at 1/8 of the crop); what is ours is said in the
# project README.
_base_ = ['../../../../configs/_base_/data_preprocessor.py']
clip_name = 'ViT-B-16'
clip_pretrained = 'openai'   # or a local path to the open_clip weights file
clip_quick_gelu = True       # OpenAI's activation (stated for a local copy of OpenAI's weights)
dino_arch = 'dinov2-vitb14'  # or 'dinov2-vitb14-reg4', 'dinov2-vits14', 'vit-s8' (DINO v1, as ECA)
dino_checkpoint = 'pretrained/dinov2_vitb14_pretrain.pth'  # the official release file (DINO loader converts it)
num_classes = 21             # with background
embed_dim = 768              # CLIP ViT-B/16 width
text_dim = 512               # CLIP's joint space
mask_block = 9               # DALNet's object-aware mask from block 10 (1-based)
beta = 0.5                   # DALNet's background threshold of the mask and of the CAMs
crop = 448
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(_base_.clip_data_preprocessor, size=(crop, crop))
model = dict(
    type='WSSSSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='OpenCLIPImageEncoder',
        model_name=clip_name,
        pretrained=clip_pretrained,
        quick_gelu=clip_quick_gelu,
        out_indices=(2, 5, 8, 11),  # feats[0:4]: WeakCLIP's pyramid; feats[3] (final block) for the classifier
        proj_indices=(-1, ),        # feats[4]: the final patch tokens in the text space, for the CAMs
        token_blocks=(mask_block, ),
        frozen=True),               # frozen: eval mode, no_grad, left out of checkpoints
    encoders=dict(
        # the CAMs' and the alignment terms' text: DALNet's prompts, learnable (context and background)
        clip_text=dict(
            type='OpenCLIPTextEncoder',
            model_name=clip_name,
            pretrained=clip_pretrained,
            quick_gelu=clip_quick_gelu,
            class_names='voc12',
            n_ctx=3,
            ctx_init='a photo of',  # the learnable prompt starts as DALNet's "a photo of {}."
            ctx_suffix='.',
            background_prompt='a photo of background.',
            learnable_bg=True,
            frozen=False),          # the context and background train; the text tower inside stays frozen
        # the decoder's text: WeakCLIP's prompt learning (8 context tokens, background as a class)
        text=dict(
            type='OpenCLIPTextEncoder',
            model_name=clip_name,
            pretrained=clip_pretrained,
            quick_gelu=clip_quick_gelu,
            class_names='voc12_bg',
            n_ctx=8,
            ctx_std=1.0,
            ctx_suffix='',
            normalize=False,
            frozen=False),
        dino=dict(type='DINOViTEncoder', arch=dino_arch, checkpoint=dino_checkpoint)),
    text_encoder='text',
    neck=dict(
        type='TextGuidedNeck',
        in_index=(0, 1, 2, 3),
        adapter=dict(type='CLIPPyramidAdapter', embed_dim=embed_dim, rescales=(4, 2, 1, 0.5), norm_cfg=norm_cfg),
        matcher=dict(type='CoAttentionMatcher', embed_dim=text_dim, width=256, num_layers=3, num_heads=4,
                     dropout=0.1, chained=True, scale_init=0.1),
        fpn=dict(type='FPN', in_channels=[embed_dim + num_classes] * 4, out_channels=256, num_outs=4)),
    cam_head=dict(type='TextCAMHead', in_channels=embed_dim, num_classes=num_classes - 1, in_index=3, text_index=4,
                  cam_source='text', pool='max', feats_from='backbone', text_from='clip_text'),
    decode_head=dict(
        type='FPNHead',
        in_channels=[256, 256, 256, 256],
        in_index=[0, 1, 2, 3],
        feature_strides=[4, 8, 16, 32],
        channels=256,
        dropout_ratio=0.1,
        num_classes=num_classes,
        norm_cfg=norm_cfg,
        align_corners=False),
    pseudo_labels=dict(
        object_mask=dict(type='PatchTextLabels', text='clip_text', tokens=mask_block, beta=beta),
        carm=dict(
            type='CARMPseudoLabel',
            encoder='dino',
            seeds='cams',             # the patch-text CAMs (normalised per class)
            scales=(1.0, 0.5),
            top_k=0.3,
            gamma=0.15,
            # ECA's prototypes, of the frozen tower's final tokens (the trained features start random)
            memory=dict(num_classes=num_classes - 1, dim=embed_dim, momentum=0.99),
            features='backbone',
            feature_index=3,
            refine=dict(type='PAR', dilations=(1, 2, 4, 8, 12, 24)),
            refine_scale=0.5)),
    losses=dict(
        cls=dict(type='CAMClassificationLoss', weight=1.0),
        gia=dict(type='GIALoss', text='clip_text', weight=1.0),
        lea=dict(type='LEALoss', text='clip_text', labels='object_mask', weight=1.0),
        cc=dict(type='CrossContrastiveLoss', text='clip_text', labels='object_mask', tau=1.0, bg_weight=0.001,
                weight=1.0),
        seed=dict(type='SeedLoss', labels='carm', size=(crop // 8, crop // 8), weight=1.0),
        boundary=dict(type='CRFBoundaryLoss', size=(crop // 8, crop // 8), weight=1.0, ratio_clip=None)),
    test_cfg=dict(mode='whole', source='decoder', bg_thr=beta, output_cams=True))
