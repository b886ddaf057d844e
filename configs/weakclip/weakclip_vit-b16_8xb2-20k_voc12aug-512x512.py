# WeakCLIP on VOC 2012 trainaug (Sec. 4.1): 20k iterations, batch 16 (8 GPUs x 2), crop 512, AdamW 1e-4, wd 3e-5,
# linear warm-up 1.5k, cosine to 1e-6; slide test 512 / stride 341 at short side 512.
#   1. seeds of any method here:  python tools/make_pseudo_labels.py CAM_CONFIG CAM_CKPT --out-dir work_dirs/seeds/voc12 --crf
#   2. bash tools/dist_train.sh configs/weakclip/weakclip_vit-b16_8xb2-20k_voc12aug-512x512.py 8
#   3. pseudo masks (Eq. 14: classes absent from the image label -> 255):
#      python tools/make_pseudo_labels.py THIS_CONFIG CKPT --source decoder --tta --crf --out-dir work_dirs/pseudo_labels/voc12
#   4. retrain: configs/retrain/deeplabv3plus_r101-d8_4xb4-20k_voc12-pseudo-512x512.py
_base_ = [
    '../_base_/models/weakclip_vit-b16.py', '../_base_/datasets/voc12_wsss.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_weakclip_adamw.py', '../_base_/evaluators/seg.py',
    '../_base_/tta/weakclip_msf.py'
]
seed_dir = 'work_dirs/seeds/voc12'  # a PNG per training image (the paper: MCTformer's seeds, 69.1 mIoU on train)
crop_size = (512, 512)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),  # the seeds (from seed_dir): cropped, resized and flipped with the image
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackWSSSInputs'),
]
# The official code concatenates train and train_aug (the 1,464 train images seen twice); this trains on
# train_aug once.
train_dataloader = dict(batch_size=2, dataset=dict(pseudo_label_dir=seed_dir, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
# the paper's total batch (8 GPUs x 2); on fewer GPUs keep it (README, "Fewer GPUs than the paper")
auto_scale_lr = dict(enable=False, base_batch_size=16)
# the pseudo masks' test-time views and CRF (official code, VOC): `make_pseudo_labels.py --source decoder --tta --crf`
tta_pipeline = _base_.weakclip_tta_pipeline
pseudo_label_crf = dict(pos_sxy=3, pos_compat=3, bi_sxy=83, bi_srgb=5, bi_compat=3)
