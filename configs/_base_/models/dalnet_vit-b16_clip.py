# DALNet / DIAL (Jang et al., ECCV 2024) as a WSSSSegmentor: the CLIP ViT-B/16 image tower trained as the
# backbone, its final class and patch tokens and the 10th block's patch tokens projected into the text space; the
# frozen CLIP text tower with fixed class prompts and "a photo of background."; a classifier for L_cls and
# patch-text CAMs (TextCAMHead); the object-aware mask from the 10th block (PatchTextLabels, beta 0.5); GIA, LEA
# and the cross-contrastive loss; a LargeFOV decoder trained from 2k iterations on PAR-refined CAM labels (ToCo's
# branch). The main paper's method section is unreadable: every form is the reconstruction of
# papers/facts/dalnet.md with its alternatives as options (configs/dalnet/README.md gives the sources).
_base_ = ['../data_preprocessor.py']
clip_name = 'ViT-B-16'
clip_pretrained = 'openai'  # or a local path to the open_clip weights file
clip_quick_gelu = True      # OpenAI's activation (stated for a local copy of OpenAI's weights)
mask_block = 9              # "block 10" of 12 (1-based, ToCo's aux_layer -3): index 9
beta = 0.5                  # background threshold of the mask and of the CAMs
data_preprocessor = dict(_base_.clip_data_preprocessor, size=(448, 448))
model = dict(
    type='WSSSSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='OpenCLIPImageEncoder',
        model_name=clip_name,
        pretrained=clip_pretrained,
        quick_gelu=clip_quick_gelu,
        out_indices=(-1, ),         # feats[0]: final patch tokens (768) for the classifier and the decoder
        proj_indices=(-1, ),        # feats[1]: the same tokens projected into the text space (512), for the CAMs
        token_blocks=(mask_block, ),
        train_blocks='all',         # fine-tuned (reconstruction 1)
        frozen=False),
    encoders=dict(
        clip_text=dict(
            type='OpenCLIPTextEncoder',
            model_name=clip_name,
            pretrained=clip_pretrained,
            quick_gelu=clip_quick_gelu,
            class_names='voc12',
            templates=['a photo of {}.'],
            background_prompt='a photo of background.',
            learnable_bg=False)),    # option: True with frozen=False (a learnable background embedding)
    text_encoder='clip_text',
    cam_head=dict(type='TextCAMHead', in_channels=768, num_classes=20, in_index=0, text_index=1,
                  cam_source='text', pool='max'),
    decode_head=dict(
        type='LargeFOVHead',
        in_channels=768,
        in_index=0,
        channels=512,
        dilation=5,
        dropout_ratio=0.0,
        num_classes=21,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    pseudo_labels=dict(
        # E3: the object-aware mask from the 10th block's patch-text CAM
        object_mask=dict(type='PatchTextLabels', text='clip_text', tokens=mask_block, beta=beta),
        # the decoder's labels (ToCo): CAMs at 1.0 / 0.5 / 1.5 + flip, PAR, background <= 0.25, (0.25, 0.7] ignored
        cam=dict(
            type='CAMPseudoLabel',
            high_thr=0.7,
            low_thr=0.25,
            scales=(1.0, 0.5, 1.5),
            flip=True,
            norm='max',
            refine=dict(type='PAR', dilations=(1, 2, 4, 8, 12, 24), num_iter=10, w1=0.3, w2=0.01),
            refine_scale=0.5)),
    losses=dict(  # Eq. 7: L_cls + lambda_i L_im + lambda_e L_ex + L_cc + 0.1 L_seg (after 2000 iterations)
        cls=dict(type='CAMClassificationLoss', weight=1.0),
        gia=dict(type='GIALoss', text='clip_text', weight=1.0),
        lea=dict(type='LEALoss', text='clip_text', labels='object_mask', weight=1.0),
        cc=dict(type='CrossContrastiveLoss', text='clip_text', labels='object_mask', tau=1.0, bg_weight=0.001,
                weight=1.0),
        seg=dict(type='DecodeLoss', labels='cam', weight=0.1, start_iter=2001)),
    test_cfg=dict(mode='whole', source='decoder', bg_thr=beta, output_cams=True))
