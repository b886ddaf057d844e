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
            templates='clims',
            # the toy world's co-occurring contexts, per class as in the paper (Sec. 4.3)
            bg_prompts=dict(boat=['water'], train=['rails'], cow=['grass']))))
