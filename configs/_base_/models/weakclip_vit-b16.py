# WeakCLIP (Zhu et al., IJCV): a frozen CLIP ViT-B/16 image tower (backbone) and text tower (shared encoder with
# 8 learnable context tokens), a trained pyramid adapter, co-attention matching and a text-guided decoder (FPN
# neck + FPNHead), trained on CAM seeds of another method with the balanced seed loss (Eq. 12) and the CRF
# boundary loss (Eq. 13) at 64 x 64. Seeds: a PNG folder (`seed_dir` in the configs), e.g. the output of
# tools/make_pseudo_labels.py for a CAM / CLIMS / ECA model, or MCTformer's masks.
# Every difference from the official code is an option; see configs/weakclip/README.md.
_base_ = ['../data_preprocessor.py']
clip_name = 'ViT-B-16'
clip_pretrained = 'openai'  # or a local path to the open_clip weights file
# OpenAI's towers were trained with QuickGELU. open_clip takes it from the 'openai' tag, but not from a local
# file, so it is stated here: keep True for a local copy of OpenAI's weights, None for other weights.
clip_quick_gelu = True
num_classes = 21            # segmentation classes, background included (prompted as "background")
embed_dim = 768             # ViT-B/16 width: the pyramid levels
text_dim = 512              # CLIP's joint embedding width
norm_cfg = dict(type='SyncBN', requires_grad=True)
# CLIP's own normalisation (the tower was trained with it). The official code normalises with ImageNet's
# mean / std: set mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375] for that.
data_preprocessor = dict(_base_.clip_data_preprocessor, size=(512, 512))
model = dict(
    type='WSSSSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='OpenCLIPImageEncoder',
        model_name=clip_name,
        pretrained=clip_pretrained,
        quick_gelu=clip_quick_gelu,
        out_indices=(2, 5, 8, 11),  # the paper's 4 stages of 3 blocks; the official code takes (3, 5, 7, 11)
        pos_interp='bilinear',      # position embeddings 14x14 -> 32x32 as the code resizes them
        frozen=True),               # the paper's frozen tower: eval mode, no_grad, left out of checkpoints
    encoders=dict(
        text=dict(
            type='OpenCLIPTextEncoder',
            model_name=clip_name,
            pretrained=clip_pretrained,
            quick_gelu=clip_quick_gelu,
            class_names='voc12_bg',  # "background" is an ordinary class name
            n_ctx=8,                 # Eq. 5: 8 learnable context tokens after the start token
            ctx_std=1.0,             # the code's trunc_normal(std=1) initialisation
            ctx_suffix='',           # [SOT, ctx x 8, class name, EOT], as the code tokenises it
            normalize=False,         # the code feeds the decoder un-normalised text embeddings
            frozen=False)),          # the context vectors train; the CLIP text tower inside stays frozen
    text_encoder='text',
    neck=dict(
        type='TextGuidedNeck',
        adapter=dict(type='CLIPPyramidAdapter', embed_dim=embed_dim, rescales=(4, 2, 1, 0.5), norm_cfg=norm_cfg),
        matcher=dict(type='CoAttentionMatcher', embed_dim=text_dim, width=256, num_layers=3, num_heads=4,
                     dropout=0.1, chained=True, scale_init=0.1),  # chained=False: the official code's layers
        fpn=dict(type='FPN', in_channels=[embed_dim + num_classes] * 4, out_channels=256, num_outs=4)),
    decode_head=dict(
        type='FPNHead',
        in_channels=[256, 256, 256, 256],
        in_index=[0, 1, 2, 3],
        feature_strides=[4, 8, 16, 32],
        channels=256,
        dropout_ratio=0.1,
        num_classes=num_classes,
        norm_cfg=norm_cfg,
        align_corners=False),  # WeakCLIP's losses are the terms below (the head's loss_decode is never used)
    pseudo_labels=dict(seeds=dict(type='SeedLabels')),
    losses=dict(
        seed=dict(type='SeedLoss', labels='seeds', size=(64, 64), weight=1.0),       # Eq. 12
        boundary=dict(type='CRFBoundaryLoss', size=(64, 64), weight=1.0,            # Eq. 13
                      ratio_clip=None)),  # the code clips Psi / P to (0.05, 20)
    # The official code's auxiliary CE on the score map (not in the paper): add
    #   aux=dict(type='ScoreMapLoss', labels='seeds', tau=0.07, weight=0.4)
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)))
