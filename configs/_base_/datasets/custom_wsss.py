# Your own images and image-level labels (tools/dataset_converters/image_folder.py --out data/custom_wsss):
# VOC's pipelines and loaders with the image-folder dataset class, which reads the class list from meta.json.
# Without masks there is nothing to validate or test on: set val_dataloader = val_cfg = val_evaluator = None
# (mmengine's way to switch validation off) and test_dataloader = test_cfg = test_evaluator = None.
_base_ = './voc12_wsss.py'
dataset_type = 'FolderWSSSDataset'
data_root = 'data/custom_wsss'
folder_dataset = dict(type=dataset_type, data_root=data_root, label_file='cls_labels.json',
                      data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'))
train_dataloader = dict(dataset=dict(folder_dataset, ann_file='ImageSets/Segmentation/train.txt'))
val_dataloader = dict(dataset=dict(folder_dataset, ann_file='ImageSets/Segmentation/val.txt'))
test_dataloader = val_dataloader
# CAM / pseudo-label quality on the training images that have masks (the WSSS convention)
train_eval_dataloader = dict(
    val_dataloader, dataset=dict(folder_dataset, ann_file='ImageSets/Segmentation/train_eval.txt'))
