# CLIMS on the toy dataset with toy-clip, the CLIP trained here on the toy image-text corpus (`make toy-teachers`
# writes data/toy_teachers/toy_clip.pt). It loads through the same path as the real weights (model_name +
# pretrained); the frozen teacher stays out of the checkpoints. Start it from the toy CAM baseline
# (--cfg-options load_from=...), as CLIMS starts from a CAM network.
_base_ = ['./clims_r18-tiny-d8_clip-tiny_1xb8-1k_toy-112x112.py']
toy_clip = 'data/toy_teachers/toy_clip.pt'
model = dict(
    encoders=dict(
        clip_image=dict(_delete_=True, type='OpenCLIPImageEncoder', model_name='toy-clip', pretrained=toy_clip),
        clip_text=dict(
            _delete_=True,
            type='OpenCLIPTextEncoder',
            model_name='toy-clip',
            pretrained=toy_clip,
            class_names=['boat', 'train', 'cow', 'bird', 'bottle'],
            # toy-clip's text tower learnt one caption grammar ("a photo of a boat on water."); CLIMS's template
            # "a photo of {}." gives "a photo of boat.", which real CLIP reads fine and toy-clip does not (it scores
            # an all-grey image above the whole image for it): use the corpus's own class prompt.
            templates='single',
            # the toy world's co-occurring contexts, per class as in the paper (Sec. 4.3)
            bg_prompts=dict(boat=['water'], train=['rails'], cow=['grass']))))
# a row of tools/analysis_tools/compare_methods.py: starts from the shared toy CAM network
toy_compare = dict(name='CLIMS (toy-clip)', init='cam')
