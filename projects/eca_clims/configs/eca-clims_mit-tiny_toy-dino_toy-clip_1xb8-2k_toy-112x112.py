# The toy twin: ECA's toy config (toy-mit, toy-dino) plus CLIMS's evaluator with toy-clip (the toy CLIMS config's
# prompts and the toy world's co-occurring contexts: water, rails, grass), the term at a tenth from ECA's toy
# warm-up (500) on. `make toy-teachers` builds the three teachers.
#   python tools/train.py projects/eca_clims/configs/eca-clims_mit-tiny_toy-dino_toy-clip_1xb8-2k_toy-112x112.py
_base_ = ['../../../configs/toy/eca_mit-tiny_toy-dino_1xb8-2k_toy-112x112.py']
custom_imports = dict(imports=['mmseg_wsss'], allow_failed_imports=False)
toy_clip = 'data/toy_teachers/toy_clip.pt'
model = dict(
    encoders=dict(
        clip_image=dict(type='OpenCLIPImageEncoder', model_name='toy-clip', pretrained=toy_clip),
        clip_text=dict(type='OpenCLIPTextEncoder', model_name='toy-clip', pretrained=toy_clip,
                       class_names=['boat', 'train', 'cow', 'bird', 'bottle'], templates='single',
                       bg_prompts=dict(boat=['water'], train=['rails'], cow=['grass']))),
    losses=dict(
        clims=dict(type='CLIMSLoss', image_encoder='clip_image', text_encoder='clip_text',
                   alpha=10.0, beta=25.0, gamma=29.5, delta=1.15, variant='paper',
                   cams='cam_logits', cams_as='sigmoid', weight=0.1, start_iter=500)))
toy_compare = dict(name='ECA + CLIMS (toy)', init=None)
optim_wrapper = dict(constructor='FrozenAwareOptimWrapperConstructor')  # the frozen teachers are left out
