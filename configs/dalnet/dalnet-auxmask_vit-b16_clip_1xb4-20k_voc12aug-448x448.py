# DALNet with reconstruction 6's ToCo alternative (papers/facts/dalnet.md): the object-aware mask comes from an
# auxiliary classifier's CAMs on the 10th block's tokens (ToCo's aux_classifier on block -3) instead of that
# block's patch-text map, thresholded at beta (background <= beta, no ignore band); with option 9's alternative
# that goes with it: the auxiliary classifier's own classification loss (weight 1) and ToCo's dense-energy
# regulariser on the decoder (w_reg 0.05, sigma_rgb 15, sigma_xy 100, half resolution, from the segmentation
# term's iteration 2001). Everything else is the default DALNet.
_base_ = ['./dalnet_vit-b16_clip_1xb4-20k_voc12aug-448x448.py']
mask_block = 9
beta = 0.5
model = dict(
    heads=dict(aux=dict(type='AuxCAMHead', tokens=mask_block, in_channels=768, num_classes=20, pool='max')),
    pseudo_labels=dict(
        object_mask=dict(_delete_=True, type='CAMPseudoLabel', cams='aux.cams', high_thr=beta, low_thr=beta,
                         norm='max')),
    losses=dict(
        aux_cls=dict(type='CAMClassificationLoss', head='aux', weight=1.0),
        reg=dict(type='DenseEnergyLoss', labels='cam', sigma_rgb=15.0, sigma_xy=100.0, scale=0.5, layer_weight=1e-7,
                 weight=0.05, start_iter=2001)))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'heads.aux': dict(lr_mult=10.0)}))  # a new layer
