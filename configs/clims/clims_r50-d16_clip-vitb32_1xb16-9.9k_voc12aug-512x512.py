# The official code's setting: CLIP ViT-B/32, 15 epochs (9,921 iterations), poly schedule, loss weights
# 10 / 24 / 1 / 0.2 and its loss forms (clamped OTM, pair-averaged OTM/BTM, CBS only above 0.26).
_base_ = ['./clims_r50-d16_clip-vitb16_1xb16-6.6k_voc12aug-512x512.py']
model = dict(
    encoders=dict(clip_image=dict(model_name='ViT-B-32'), clip_text=dict(model_name='ViT-B-32')),
    losses=dict(clims=dict(alpha=10.0, beta=24.0, gamma=1.0, delta=0.2, variant='code', cbs_thr=0.26)))
max_iters = 9921
val_interval = 3307
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
