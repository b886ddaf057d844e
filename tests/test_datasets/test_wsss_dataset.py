import json
import os.path as osp
import shutil

import numpy as np
import pytest
from mmseg.registry import DATASETS
from PIL import Image

from mmseg_wsss.datasets import WSSSDatasetError, write_label_file
from mmseg_wsss.datasets.transforms import PackWSSSInputs
from mmseg_wsss.utils import img_labels_multi_hot

TRAIN_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='RandomFlip', prob=0.5), dict(type='PackWSSSInputs')]
EVAL_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackWSSSInputs')]


def toy_cfg(root, pipeline=TRAIN_PIPELINE, split='train', **kw):
    cfg = dict(type='ToyWSSSDataset', data_root=root,
               data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
               ann_file=f'ImageSets/Segmentation/{split}.txt', pipeline=pipeline)
    cfg.update(kw)
    return cfg


def test_labels_come_from_label_file(toy_root):
    ds = DATASETS.build(toy_cfg(toy_root))
    labels = json.load(open(osp.join(toy_root, 'cls_labels.json')))['labels']
    assert len(ds) == 24 and ds.num_classes == 6
    info = ds.get_data_info(3)
    assert info['img_labels'] == sorted(labels[info['img_id']])
    item = ds[3]
    assert item['data_samples'].metainfo['img_labels'] == info['img_labels']  # the one carrier
    hot = img_labels_multi_hot([item['data_samples']], 5)[0]  # the one conversion, foreground only
    assert hot.shape == (5, ) and sorted(np.nonzero(hot.numpy())[0] + 1) == info['img_labels']
    assert 'gt_sem_seg' not in item['data_samples']


def test_labels_agree_with_masks(toy_root):
    ds = DATASETS.build(toy_cfg(toy_root, EVAL_PIPELINE, split='val'))
    for i in range(len(ds)):
        item = ds[i]
        ids = set(item['data_samples'].gt_sem_seg.data.unique().tolist()) - {0, 255}
        assert ids == set(item['data_samples'].metainfo['img_labels'])


def test_training_without_mask_folder(toy_root, tmp_path):
    root = tmp_path / 'nomasks'
    shutil.copytree(toy_root, root, ignore=shutil.ignore_patterns('SegmentationClass'))
    ds = DATASETS.build(toy_cfg(str(root)))
    assert ds[0]['inputs'].shape[0] == 3
    with pytest.raises(WSSSDatasetError, match='mask folder is missing'):
        DATASETS.build(toy_cfg(str(root), EVAL_PIPELINE))


def test_missing_data_root_and_label_file(toy_root, tmp_path):
    with pytest.raises(WSSSDatasetError, match='Toy dataset not found'):
        DATASETS.build(toy_cfg(str(tmp_path / 'nope')))
    with pytest.raises(WSSSDatasetError, match='Data root not found'):
        DATASETS.build(dict(type='VOC12WSSSDataset', data_root=str(tmp_path / 'nope'),
                            ann_file='ImageSets/Segmentation/train.txt', pipeline=[]))
    with pytest.raises(WSSSDatasetError, match='label file not found'):
        DATASETS.build(toy_cfg(toy_root, label_file='missing.json'))


def test_class_mismatch_and_unlabelled_images(toy_root, tmp_path):
    root = tmp_path / 'bad'
    shutil.copytree(toy_root, root)
    with pytest.raises(WSSSDatasetError, match='but the dataset is configured with 3 classes'):
        DATASETS.build(toy_cfg(str(root), metainfo=dict(classes=('background', 'boat', 'train'))))
    labels = json.load(open(root / 'cls_labels.json'))
    del labels['labels']['train_00000']
    write_label_file(str(root / 'cls_labels.json'), labels['classes'], labels['labels'])
    with pytest.raises(WSSSDatasetError, match='1 images have no entry'):
        DATASETS.build(toy_cfg(str(root)))
    labels['labels']['train_00000'] = [9]
    write_label_file(str(root / 'cls_labels.json'), labels['classes'], labels['labels'])
    with pytest.raises(WSSSDatasetError, match='outside 1..5'):
        DATASETS.build(toy_cfg(str(root)))


def test_corrupt_image_is_one_clear_error(toy_root, tmp_path):
    root = tmp_path / 'corrupt'
    shutil.copytree(toy_root, root)
    (root / 'JPEGImages' / 'train_00000.jpg').write_bytes(b'not a jpeg at all')
    ds = DATASETS.build(toy_cfg(str(root)))
    with pytest.raises(AssertionError, match=r'failed to load image: .*train_00000\.jpg'):  # mmcv's own check
        ds[0]


def test_voc_and_coco_datasets(voc_like_root, coco_like_root):
    voc = DATASETS.build(dict(type='VOC12WSSSDataset', data_root=voc_like_root,
                              data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
                              ann_file='ImageSets/Segmentation/val.txt', pipeline=EVAL_PIPELINE))
    assert voc.num_classes == 21
    item = voc[0]
    assert set(item['data_samples'].gt_sem_seg.data.unique().tolist()) - {0, 255} == \
        set(item['data_samples'].metainfo['img_labels'])
    coco = DATASETS.build(dict(type='COCO14WSSSDataset', data_root=coco_like_root,
                               data_prefix=dict(img_path='images/val2014', seg_map_path='masks/val2014'),
                               ann_file='val2014.txt', pipeline=EVAL_PIPELINE))
    assert coco.num_classes == 81 and coco.metainfo['classes'][9] == 'boat'
    assert img_labels_multi_hot([coco[0]['data_samples']], 80).shape == (1, 80)


def test_pack_and_label_helper():
    packed = PackWSSSInputs()(dict(img=np.zeros((4, 5, 3), np.uint8), img_labels=[1, 3], img_id='x',
                                   ori_shape=(4, 5), img_shape=(4, 5)))
    assert packed['inputs'].shape == (3, 4, 5)
    assert packed['data_samples'].metainfo['img_id'] == 'x'
    assert img_labels_multi_hot([packed['data_samples'], dict(img_labels=[])], 3).tolist() == [[1, 0, 1], [0, 0, 0]]
    with pytest.raises(KeyError, match='PackWSSSInputs'):
        img_labels_multi_hot([dict()], 3)
    with pytest.raises(ValueError, match='outside 1..3'):
        img_labels_multi_hot([dict(img_labels=[4])], 3)


def test_seed_folder_missing_or_incomplete(toy_root, tmp_path):
    """pseudo_label_dir (retraining masks, WeakCLIP seeds): a missing folder and a missing PNG are each one clear
    error; a complete folder gives the seeds as gt_sem_seg, transformed with the image."""
    seed_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                     dict(type='RandomFlip', prob=1.0), dict(type='PackWSSSInputs')]
    with pytest.raises(WSSSDatasetError, match='pseudo_label_dir not found'):
        DATASETS.build(toy_cfg(toy_root, seed_pipeline, pseudo_label_dir=str(tmp_path / 'none')))
    seeds = tmp_path / 'seeds'
    shutil.copytree(osp.join(toy_root, 'SegmentationClass'), seeds)
    ds = DATASETS.build(toy_cfg(toy_root, seed_pipeline, pseudo_label_dir=str(seeds)))
    first = ds.get_data_info(0)['img_id']
    mask = np.array(Image.open(seeds / f'{first}.png'))
    assert np.array_equal(ds[0]['data_samples'].gt_sem_seg.data[0].numpy(), mask[:, ::-1])  # flipped too
    victim = ds.get_data_info(5)['img_id']
    (seeds / f'{victim}.png').unlink()
    with pytest.raises(WSSSDatasetError, match=f'1 of 24 images have no PNG \\(first missing: .*{victim}.png'):
        DATASETS.build(toy_cfg(toy_root, seed_pipeline, pseudo_label_dir=str(seeds)))
