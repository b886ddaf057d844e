# The flagship's model (ours; the family of WeCLIP / WeCLIP+: frozen CLIP and DINO, one training stage), made of
# the papers' parts without new modules: WeakCLIP's model (inherited: the frozen CLIP ViT-B/16 tower, its
# learnable `text` prompts, adapter, co-attention, text-guided FPN and FPNHead, seed and CRF losses) plus
#   - DALNet's patch-text CAMs: a TextCAMHead on the tower's final projected patch tokens with the prompts of
#     `clip_text` (read from the backbone: feats_from='backbone', text_from='clip_text'),
#   - ECA's CARM with frozen DINOv2's key affinity and foreground cue, seeded by those CAMs: the decoder's labels
#     (WeakCLIP's seed loss, Eq. 12, and CRF loss, Eq. 13, read them instead of a seed folder),
#   - DALNet's GIA / LEA / cross-contrastive terms aligning the frozen tower's tokens with `clip_text`'s learnable
#     prompts (the CAMs' text): with both towers frozen, the prompts (initialised as DALNet's fixed "a photo of
#     {}." and its background prompt) are the trainable side of the alignment, so the CAMs move with them.
# Every weight and threshold is its paper's default (DALNet's beta 0.5 and lambdas 1; ECA's top-k 0.3, gamma
# 0.15, scales 1.0 / 0.5, momentum 0.99; WeakCLIP's losses at 1/8 of the crop); what is ours is said in the
# project README.
_base_ = ['../../../../configs/_base_/models/weakclip_vit-b16.py']
dino_arch = 'dinov2-vitb14'  # or 'dinov2-vitb14-reg4', 'dinov2-vits14', 'vit-s8' (DINO v1, as ECA)
dino_checkpoint = 'pretrained/dinov2_vitb14_pretrain.pth'  # the official release file (DINO loader converts it)
mask_block = 9               # DALNet's object-aware mask from block 10 (1-based)
beta = 0.5                   # DALNet's background threshold of the mask and of the CAMs
crop = 448
model = dict(
    data_preprocessor=dict(size=(crop, crop)),
    backbone=dict(
        # feats[0:4]: WeakCLIP's pyramid (blocks 3 / 6 / 9 / 12), feats[3] also the classifier's input;
        # feats[4]: the final patch tokens in the text space, for the CAMs
        proj_indices=(-1, ),
        token_blocks=(mask_block, ),
        pos_interp='bicubic'),      # open_clip's own position resize (WeakCLIP's code: bilinear)
    encoders=dict(
        # the CAMs' and the alignment terms' text: DALNet's prompts, learnable (context and background)
        clip_text=dict(
            type='OpenCLIPTextEncoder',
            model_name=_base_.clip_name,
            pretrained=_base_.clip_pretrained,
            quick_gelu=_base_.clip_quick_gelu,
            class_names='voc12',
            n_ctx=3,
            ctx_init='a photo of',  # the learnable prompt starts as DALNet's "a photo of {}."
            ctx_suffix='.',
            background_prompt='a photo of background.',
            learnable_bg=True,
            frozen=False),          # the context and background train; the text tower inside stays frozen
        dino=dict(type='DINOViTEncoder', arch=dino_arch, checkpoint=dino_checkpoint)),
    neck=dict(in_index=(0, 1, 2, 3)),
    cam_head=dict(type='TextCAMHead', in_channels=_base_.embed_dim, num_classes=_base_.num_classes - 1,
                  in_index=3, text_index=4, cam_source='text', pool='max', feats_from='backbone',
                  text_from='clip_text'),
    pseudo_labels=dict(
        seeds=None,                 # no seed folder: the labels are made online
        object_mask=dict(type='PatchTextLabels', text='clip_text', tokens=mask_block, beta=beta),
        carm=dict(
            type='CARMPseudoLabel',
            encoder='dino',
            seeds='cams',             # the patch-text CAMs (normalised per class)
            scales=(1.0, 0.5),
            top_k=0.3,
            gamma=0.15,
            # ECA's prototypes, of the frozen tower's final tokens (the trained features start random)
            memory=dict(num_classes=_base_.num_classes - 1, dim=_base_.embed_dim, momentum=0.99),
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
        seed=dict(labels='carm', size=(crop // 8, crop // 8)),
        boundary=dict(size=(crop // 8, crop // 8))),
    test_cfg=dict(_delete_=True, mode='whole', source='decoder', bg_thr=beta, output_cams=True))
