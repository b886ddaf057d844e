# CLIMS's CLIP evaluator with toy-clip, as a part other toy configs add to their model (AFA + CLIMS, ECA + CLIMS):
#   _base_ = [..., '../_base_/parts/clims_toy-clip.py']
#   model = dict(encoders=_base_.clims_toy_encoders, losses=dict(clims=dict(_base_.clims_toy_term, weight=...)))
# The toy CLIMS config's prompts (the corpus's own class prompt) and the toy world's co-occurring contexts. The
# term reads the CAM head's logits through a sigmoid (`cams='cam_logits', cams_as='sigmoid'`): ReLU CAMs (AFA's,
# ECA's) cannot be turned into the sigmoid maps CLIMS masks images with (Eq. 3), so `cams='cams'` fails at build.
toy_clip = 'data/toy_teachers/toy_clip.pt'
clims_toy_encoders = dict(
    clip_image=dict(type='OpenCLIPImageEncoder', model_name='toy-clip', pretrained=toy_clip),
    clip_text=dict(type='OpenCLIPTextEncoder', model_name='toy-clip', pretrained=toy_clip,
                   class_names=['boat', 'train', 'cow', 'bird', 'bottle'], templates='single',
                   bg_prompts=dict(boat=['water'], train=['rails'], cow=['grass'])))
clims_toy_term = dict(type='CLIMSLoss', image_encoder='clip_image', text_encoder='clip_text',
                      alpha=10.0, beta=25.0, gamma=29.5, delta=1.15, variant='paper',
                      cams='cam_logits', cams_as='sigmoid')
