# ECA's single-stage network on VOC (configs/eca/eca_mit-b1_dino-vits8_*: MiT-B1, DINO ViT-S/8 CARM, prototypes,
# CAM correspondence, SegFormer decoder) plus CLIMS's CLIP evaluator (OTM, BTM, CBS, REG with the paper's weights
# and its background prompts for train and boat) on ECA's CAMs. CLIMS masks images with sigmoid maps (its Eq. 3);
# ECA's CAM head makes ReLU maps, which no conversion turns into a sigmoid (the model refuses `cams='cams'` when it
# is built), so the term reads the same head's logits through a sigmoid (`cams='cam_logits', cams_as='sigmoid'`).
# Ours, from neither paper: the term at a tenth of ECA's loss scale, from ECA's 2k warm-up on, like ECA's terms.
#   bash tools/dist_train.sh projects/eca_clims/configs/eca-clims_mit-b1_dino-vits8_clip-vitb16_2xb4-18k_voc12aug-512x512.py 2
_base_ = ['../../../configs/eca/eca_mit-b1_dino-vits8_2xb4-18k_voc12aug-512x512.py']
custom_imports = dict(imports=['mmseg_wsss'], allow_failed_imports=False)
clip_name = 'ViT-B-16'
clip_pretrained = 'openai'  # or a local path to the open_clip weights file
model = dict(
    encoders=dict(
        clip_image=dict(type='OpenCLIPImageEncoder', model_name=clip_name, pretrained=clip_pretrained,
                        quick_gelu=True),
        clip_text=dict(type='OpenCLIPTextEncoder', model_name=clip_name, pretrained=clip_pretrained, quick_gelu=True,
                       class_names='voc12', templates='clims',
                       bg_prompts=dict(train=['railroad', 'railway', 'tree'], boat=['river', 'sea', 'lake']))),
    losses=dict(
        clims=dict(type='CLIMSLoss', image_encoder='clip_image', text_encoder='clip_text',
                   alpha=10.0, beta=25.0, gamma=29.5, delta=1.15, variant='paper', mask_fill='mean',
                   cams='cam_logits', cams_as='sigmoid', weight=0.1, start_iter=2000)))
