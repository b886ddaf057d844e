# Stage 3 of multi-stage WSSS: train a standard segmentation network on pseudo labels, evaluate on VOC val.
#   python tools/make_pseudo_labels.py CAM_CONFIG CAM_CKPT --out-dir work_dirs/pseudo_labels/voc12 --crf
#   bash tools/dist_train.sh configs/retrain/deeplabv3plus_r101-d8_4xb4-20k_voc12-pseudo-512x512.py 4 \
#       --cfg-options train_dataloader.dataset.pseudo_label_dir=work_dirs/pseudo_labels/voc12
_base_ = [
    '../_base_/models/deeplabv3plus_r101-d8.py', '../_base_/datasets/voc12_wsss.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_iter.py', '../_base_/evaluators/seg.py'
]
pseudo_label_dir = 'work_dirs/pseudo_labels/voc12'
crop_size = (512, 512)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),  # the pseudo labels
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4,
    dataset=dict(pseudo_label_dir=pseudo_label_dir, pipeline=train_pipeline))
max_iters = 20000
val_interval = 2000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_iters, by_epoch=False)]
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005))
default_hooks = dict(checkpoint=dict(interval=val_interval))
# the paper's total batch (4 GPUs x 4); on fewer GPUs keep it (README, "Fewer GPUs than the paper")
auto_scale_lr = dict(enable=False, base_batch_size=16)
