# DALNet with reconstruction 1's alternative encoder (papers/facts/dalnet.md): timm's ViT-B/16 pretrained on
# ImageNet-21k (ToCo's encoder family; the supplementary's "pre-trained on ImageNet-21k" footnote) instead of CLIP's
# image tower, its class and patch tokens brought into CLIP's 512-d text space by a learned projection (new: the
# new layers' 10x learning rate), and the (1 + cos) / 2 similarity for GIA and LEA (a random projection starts
# near cos 0, and the clamp form passes no gradient to pairs below 0: half of them at the start). The text tower
# stays CLIP's, frozen. Weights: https://huggingface.co/timm/vit_base_patch16_224.augreg_in21k (model.safetensors) to
# pretrained/vit_base_patch16_224.augreg_in21k.safetensors.
_base_ = ['./dalnet_vit-b16_clip_1xb4-20k_voc12aug-448x448.py']
vit_checkpoint = 'pretrained/vit_base_patch16_224.augreg_in21k.safetensors'
mask_block = 9
model = dict(
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5]),  # timm's augreg statistics
    backbone=dict(
        _delete_=True,
        type='TimmViTEncoder',
        arch='vit-b16',
        checkpoint=vit_checkpoint,
        proj_dim=512,               # CLIP ViT-B/16's text space
        out_indices=(-1, ),
        proj_indices=(-1, ),
        token_blocks=(mask_block, ),
        train_blocks='all'),
    losses=dict(gia=dict(similarity='affine'), lea=dict(similarity='affine')))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'backbone.text_proj': dict(lr_mult=10.0)}))
