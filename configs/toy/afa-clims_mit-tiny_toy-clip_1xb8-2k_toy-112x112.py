# A composite made from configs alone (the worked example of configs/toy/README.md): AFA's single-stage MiT
# network (CAM head with ReLU CAMs, PAR-refined CAM labels, affinity from attention, SegFormer decoder) plus
# CLIMS's CLIP evaluator (OTM, BTM, CBS, REG) with toy-clip. CLIMS masks images with sigmoid maps (its Eq. 3);
# AFA's CAM head makes ReLU maps, which no conversion turns into a sigmoid, so `cams='cams'` fails when the model
# is built. `cams='cam_logits'` reads the same head's logits through a sigmoid (the conversion of
# mmseg_wsss/models/maps.py); AFA's own CAMs, labels and pooling are untouched.
_base_ = ['./afa_mit-tiny_1xb8-2k_toy-112x112.py', '../_base_/parts/clims_toy-clip.py']
model = dict(
    encoders=_base_.clims_toy_encoders,
    # this example's choice, from neither paper (CLIMS trains with these terms alone): a tenth, from AFA's warm-up
    # on, like AFA's other terms
    losses=dict(clims=dict(_base_.clims_toy_term, weight=0.1, start_iter=500)))
optim_wrapper = dict(constructor='FrozenAwareOptimWrapperConstructor')
