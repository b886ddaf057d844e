# MS COCO 2014 for WSSS, 81 classes (prepare with tools/dataset_converters/coco2014.py).
dataset_type = 'COCO14WSSSDataset'
data_root = 'data/coco2014'
crop_size = (512, 512)
train_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadImageLevelLabels'),
    dict(type='RandomResize', scale=(640, 640), ratio_range=(0.5, 1.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='LoadImageLevelLabels'),
    dict(type='PackWSSSInputs'),
]
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
tta_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in img_ratios],
            [dict(type='RandomFlip', prob=0., direction='horizontal'),
             dict(type='RandomFlip', prob=1., direction='horizontal')],
            [dict(type='LoadAnnotations')],
            [dict(type='LoadImageLevelLabels')],
            [dict(type='PackWSSSInputs')],
        ])
]
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/train2014', seg_map_path='masks/train2014'),
        ann_file='train2014.txt',
        label_file='cls_labels.json',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/val2014', seg_map_path='masks/val2014'),
        ann_file='val2014.txt',
        label_file='cls_labels.json',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
train_eval_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/train2014', seg_map_path='masks/train2014'),
        ann_file='train2014.txt',
        label_file='cls_labels.json',
        pipeline=test_pipeline))
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
