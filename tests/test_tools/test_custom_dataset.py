"""A user's own folder of images + CSV labels -> image_folder.py -> a CAM network trained and tested from a config
that inherits configs/_base_/datasets/custom_wsss.py (README, "Your own dataset")."""
import glob
import os.path as osp

from mmseg_wsss.apis import read_logged_metrics
from tests.conftest import ROOT, run_tool
from tests.test_datasets.test_converters import _user_folder


def test_train_and_test_a_cam_network_on_a_converted_folder(toy_root, tmp_path):
    imgs, masks, csv_path, order, _, _ = _user_folder(toy_root, tmp_path, n=24)
    data = tmp_path / 'custom'
    run_tool('tools/dataset_converters/image_folder.py', str(imgs), str(csv_path), '--out', str(data),
             '--masks', str(masks), '--val-fraction', '0.25')
    cfg = tmp_path / 'cam_r18-tiny-d8_1xb4-3_custom-112x112.py'
    cfg.write_text(
        f"_base_ = ['{ROOT}/configs/_base_/models/cam_r18-tiny-d8.py', "
        f"'{ROOT}/configs/_base_/datasets/custom_wsss.py', '{ROOT}/configs/_base_/default_runtime.py', "
        f"'{ROOT}/configs/_base_/schedules/schedule_iter.py', '{ROOT}/configs/_base_/evaluators/seg_and_cam.py']\n"
        f"model = dict(cam_head=dict(num_classes={len(order) - 1}))\n"
        "train_cfg = dict(type='IterBasedTrainLoop', max_iters=3, val_interval=3)\n"
        "param_scheduler = [dict(type='PolyLR', power=0.9, begin=0, end=3, by_epoch=False)]\n"
        "optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9))\n"
        "default_hooks = dict(checkpoint=dict(interval=3))\n"
        "train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False)\n"
        "val_dataloader = dict(num_workers=0, persistent_workers=False)\n"
        "test_dataloader = _base_.train_eval_dataloader\n")
    small = ['train_dataloader.dataset.pipeline.1.scale=(128,128)',
             'train_dataloader.dataset.pipeline.2.crop_size=(112,112)']
    work = tmp_path / 'work'
    run_tool('tools/train.py', str(cfg), '--work-dir', str(work), '--cfg-options', f'data_root={data}', *small)
    log = open(glob.glob(str(work / '*' / '*.log'))[0]).read()
    assert 'cam/mIoU' in log  # validated on the held-out images with masks
    run_tool('tools/test.py', str(cfg), str(work / 'iter_3.pth'), '--work-dir', str(tmp_path / 'test'),
             '--cfg-options', f'data_root={data}')
    m = read_logged_metrics(str(tmp_path / 'test'))
    assert 0 <= m['cam/mIoU'] <= 100 and m['protocol']['split'] == 'ImageSets/Segmentation/train_eval.txt'
    assert osp.isfile(data / 'meta.json')
