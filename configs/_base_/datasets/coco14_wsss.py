# MS COCO 2014 for WSSS, 81 classes (prepare with tools/dataset_converters/coco2014.py).
# Same pipelines and loaders as VOC; only the dataset class and the layout differ.
_base_ = './voc12_wsss.py'
dataset_type = 'COCO14WSSSDataset'
data_root = 'data/coco2014'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/train2014', seg_map_path='masks/train2014'),
        ann_file='train2014.txt'))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/val2014', seg_map_path='masks/val2014'),
        ann_file='val2014.txt'))
test_dataloader = val_dataloader
train_eval_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/train2014', seg_map_path='masks/train2014'),
        ann_file='train2014.txt'))
