# The toy DALNet from toy-clip-dense with the object-aware mask read from a frozen copy of the start instead of the
# tower that trains (ours, not the paper's: a probe of why LEA unlearns localisation on the toy set, see the main
# README's "DALNet from toy-clip-dense"). The copy is a shared encoder, frozen (eval mode, no_grad, out of
# checkpoints), run once per step at the batch's size; everything else is the dense config's.
_base_ = ['./dalnet_toy-clip-dense_1xb8-2k_toy-112x112.py']
model = dict(
    encoders=dict(clip_mask=dict(type='OpenCLIPImageEncoder', model_name='toy-clip', pretrained={{_base_.toy_clip}},
                                 quick_gelu=None, token_blocks=(1, ), batch_output='tokens')),
    pseudo_labels=dict(object_mask=dict(image_encoder='clip_mask')))
toy_compare = dict(name='DALNet, frozen mask (toy-clip-dense)', init=None)
