# CLIMS as the official code (current version) runs it, on the paper base: CLIP ViT-B/32, the code's loss forms
# (clamped OTM/BTM averaged over pairs, CBS summed over the batch above a threshold), its shared background list,
# "player" for person, masked pixels at the mean colour, the stem frozen and every other layer (BatchNorms and
# layer1 included) trained, and ReLU(logits) CAMs at inference. The optimiser's "no momentum" is in the configs.
_base_ = ['./clims_r50-d16_clip-vitb16.py']
clip_name = 'ViT-B-32'
model = dict(
    backbone=dict(frozen_stages=0, norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False),
    encoders=dict(
        clip_image=dict(model_name=clip_name),
        clip_text=dict(model_name=clip_name, bg_prompts='clims_code_voc12', rename=dict(person='player'))),
    cam_head=dict(inference_activation='relu'),
    losses=dict(clims=dict(alpha=10.0, beta=24.0, gamma=1.0, delta=0.2, variant='code', cbs_thr=0.26,
                           mask_fill='mean')))
