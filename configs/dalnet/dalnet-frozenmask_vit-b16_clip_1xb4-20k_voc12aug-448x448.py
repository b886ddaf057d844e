# DALNet on VOC with the object-aware mask (E3) read from a frozen copy of the CLIP image tower at its pretrained
# weights instead of the tower that trains (ours, not the paper's). On the toy set the mask from the trained tower
# collapses to background once LEA is on (main README, "DALNet from toy-clip-dense"); this variant keeps the
# mask where CLIP's start puts it. The copy is a shared encoder: frozen, eval mode, no_grad, out of checkpoints,
# one extra forward of the tower per step (no backward). Everything else is the default config's.
_base_ = ['./dalnet_vit-b16_clip_1xb4-20k_voc12aug-448x448.py']
model = dict(
    encoders=dict(clip_mask=dict(type='OpenCLIPImageEncoder', model_name={{_base_.clip_name}},
                                 pretrained={{_base_.clip_pretrained}}, quick_gelu={{_base_.clip_quick_gelu}},
                                 token_blocks=({{_base_.mask_block}}, ), batch_output='tokens')),
    pseudo_labels=dict(object_mask=dict(image_encoder='clip_mask')))
