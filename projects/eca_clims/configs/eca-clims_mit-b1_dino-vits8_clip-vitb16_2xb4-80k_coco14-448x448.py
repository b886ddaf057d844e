# ECA on COCO 2014 (configs/eca/eca_mit-b1_dino-vits8_2xb4-80k_coco14-448x448.py) plus CLIMS's CLIP evaluator on
# its CAMs, as the VOC config of this project. COCO's background prompts are the official CLIMS code's per-class
# sets (the paper lists none for COCO).
_base_ = ['../../../configs/eca/eca_mit-b1_dino-vits8_2xb4-80k_coco14-448x448.py']
custom_imports = dict(imports=['mmseg_wsss'], allow_failed_imports=False)
clip_name = 'ViT-B-16'
clip_pretrained = 'openai'
model = dict(
    encoders=dict(
        clip_image=dict(type='OpenCLIPImageEncoder', model_name=clip_name, pretrained=clip_pretrained,
                        quick_gelu=True),
        clip_text=dict(type='OpenCLIPTextEncoder', model_name=clip_name, pretrained=clip_pretrained, quick_gelu=True,
                       class_names='coco14', templates='clims', bg_prompts='clims_code_coco14')),
    losses=dict(
        clims=dict(type='CLIMSLoss', image_encoder='clip_image', text_encoder='clip_text',
                   alpha=10.0, beta=25.0, gamma=29.5, delta=1.15, variant='paper', mask_fill='mean',
                   cams='cam_logits', cams_as='sigmoid', weight=0.1, start_iter=2000)))
