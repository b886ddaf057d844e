# CLIMS (Xie et al., CVPR 2022): ResNet-50 CAM network (output stride 16) with a sigmoid CAM head (Eq. 3),
# trained only through a frozen CLIP evaluator (OTM, BTM, CBS, REG; Eqs. 6-13). Initialise it from a trained
# plain CAM network (`load_from` in the configs), as the paper and the official code do.
# The two CLIP towers are shared encoders: built once, frozen, left out of checkpoints (rebuilt from
# `pretrained` when a checkpoint is loaded). Override one field, e.g. `model.encoders.clip_image.pretrained=PATH`.
_base_ = ['./cam_r50-d16.py']
clip_name = 'ViT-B-16'
clip_pretrained = 'openai'  # or a local path to the open_clip weights file
# OpenAI's towers were trained with QuickGELU. open_clip takes it from the 'openai' tag, but not from a local
# file, so it is stated here: keep True for a local copy of OpenAI's weights, None for other weights.
clip_quick_gelu = True
model = dict(
    encoders=dict(
        clip_image=dict(type='OpenCLIPImageEncoder', model_name=clip_name, pretrained=clip_pretrained,
                        quick_gelu=clip_quick_gelu),
        clip_text=dict(
            type='OpenCLIPTextEncoder',
            model_name=clip_name,
            pretrained=clip_pretrained,
            quick_gelu=clip_quick_gelu,
            class_names='voc12',
            templates='clims',  # "a photo of {}."
            # CLIMS Sec. 4.3: only train and boat have co-occurring background sets
            bg_prompts=dict(train=['railroad', 'railway', 'tree'], boat=['river', 'sea', 'lake']))),
    cam_head=dict(_delete_=True, type='SigmoidCAMHead', in_channels=2048, num_classes=20),
    losses=dict(
        _delete_=True,  # no classification loss: the CAMs learn from the evaluator only (Eq. 13)
        clims=dict(
            type='CLIMSLoss',
            image_encoder='clip_image',
            text_encoder='clip_text',
            alpha=10.0, beta=25.0, gamma=29.5, delta=1.15,  # Eq. 13, the paper's weights
            variant='paper',
            mask_fill='mean')),  # masked pixels take the mean colour, as both official code versions do
    test_cfg=dict(bg_thr=0.15))  # CAM evaluation threshold of the official code
