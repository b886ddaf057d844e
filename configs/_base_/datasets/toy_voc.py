# The generated toy dataset (tools/dataset_converters/make_toy_voc.py): CPU-sized, used by the demo and tests.
# VOC's loaders with the toy dataset class, 128 px images and no worker processes.
_base_ = './voc12_wsss.py'
dataset_type = 'ToyWSSSDataset'
data_root = 'data/toy_voc'
crop_size = (112, 112)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResize', scale=(128, 128), ratio_range=(0.8, 1.2), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackWSSSInputs'),
]
img_ratios = [0.75, 1.0, 1.25]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in img_ratios],
            [dict(type='RandomFlip', prob=0., direction='horizontal'),
             dict(type='RandomFlip', prob=1., direction='horizontal')],
            [dict(type='LoadAnnotations')],
            [dict(type='PackWSSSInputs')],
        ])
]
toy_dataset = dict(type=dataset_type, data_root=data_root,
                   data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'))
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(toy_dataset, ann_file='ImageSets/Segmentation/train.txt', pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(toy_dataset, ann_file='ImageSets/Segmentation/val.txt'))
test_dataloader = val_dataloader
train_eval_dataloader = dict(num_workers=0, persistent_workers=False,
                             dataset=dict(toy_dataset, ann_file='ImageSets/Segmentation/train.txt'))
