"""CLIMS through the standard tools on the toy dataset, with a tiny random CLIP."""
import glob
import json
import os.path as osp

import numpy as np
import torch
from PIL import Image

from mmseg_wsss.apis import read_logged_metrics
from tests.conftest import ROOT, run_tool, toy_options

CLIMS_CFG = osp.join(ROOT, 'configs/toy/clims_r18-tiny-d8_clip-tiny_1xb8-1k_toy-112x112.py')


def test_clims_train_test_pseudo_labels(toy_root, tmp_path):
    work = tmp_path / 'clims'
    res = run_tool('tools/train.py', CLIMS_CFG, '--work-dir', str(work), *toy_options(toy_root, iters=4))
    log = open(glob.glob(str(work / '*' / '*.log'))[0]).read()
    for key in ('clims.loss_otm', 'clims.loss_btm', 'clims.loss_cbs', 'clims.loss_reg'):
        assert key in log
    assert 'frozen parameters are left out of the optimizer' in log and 'is skipped since' not in log
    ckpt = work / 'iter_4.pth'
    state = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    # the frozen CLIP's weights did not move (they are not trained), the CAM head did exist and train
    assert any(k.startswith('cam_head.classifier') for k in state)
    run_tool('tools/test.py', CLIMS_CFG, str(ckpt), '--work-dir', str(tmp_path / 't'), *toy_options(toy_root))
    m = read_logged_metrics(str(tmp_path / 't'))
    assert 'cam/mIoU' in m and 'cam/best_bg_thr' in m
    out = tmp_path / 'pl'
    res = run_tool('tools/make_pseudo_labels.py', CLIMS_CFG, str(ckpt), '--out-dir', str(out),
                   '--cfg-options', f'train_dataloader.dataset.data_root={toy_root}')
    assert '24 written' in res.stdout
    labels = json.load(open(osp.join(toy_root, 'cls_labels.json')))['labels']
    for png in out.glob('*.png'):
        assert set(np.unique(np.array(Image.open(png)))) <= {0, 255, *labels[png.stem]}
