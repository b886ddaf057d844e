"""CLIMS through the standard tools on the toy dataset, with a tiny CLIP."""
import glob
import json
import os.path as osp

import numpy as np
import open_clip
import torch
from mmengine.config import Config
from PIL import Image

from mmseg_wsss.apis import read_logged_metrics
from tests.conftest import ROOT, run_tool, toy_options

CLIMS_CFG = osp.join(ROOT, 'configs/toy/clims_r18-tiny-d8_clip-tiny_1xb8-1k_toy-112x112.py')


def load_state(path):
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


def test_clims_train_test_pseudo_labels(toy_root, tmp_path):
    work = tmp_path / 'clims'
    run_tool('tools/train.py', CLIMS_CFG, '--work-dir', str(work), *toy_options(toy_root, iters=4,
                                                                                extra=['default_hooks.checkpoint.interval=2']))
    log = open(glob.glob(str(work / '*' / '*.log'))[0]).read()
    for key in ('clims.loss_otm', 'clims.loss_btm', 'clims.loss_cbs', 'clims.loss_reg'):
        assert key in log
    assert 'frozen parameters are left out of the optimizer' in log and 'is skipped since' not in log
    first, last = load_state(work / 'iter_2.pth'), load_state(work / 'iter_4.pth')
    # the random teacher is saved (in_checkpoint=True) and did not move; the CAM network did train
    clip_keys = [k for k in last if k.startswith('encoders.clip_image.') or k.startswith('encoders.clip_text.')]
    assert any(k.startswith('encoders.clip_image.visual.') for k in clip_keys)
    assert all(torch.equal(first[k], last[k]) for k in clip_keys)
    assert not torch.equal(first['cam_head.classifier.weight'], last['cam_head.classifier.weight'])
    ckpt = work / 'iter_4.pth'
    run_tool('tools/test.py', CLIMS_CFG, str(ckpt), '--work-dir', str(tmp_path / 't'), *toy_options(toy_root))
    m = read_logged_metrics(str(tmp_path / 't'))
    assert 'cam/mIoU' in m and 'cam/best_bg_thr' in m
    out = tmp_path / 'pl'
    res = run_tool('tools/make_pseudo_labels.py', CLIMS_CFG, str(ckpt), '--out-dir', str(out),
                   '--cfg-options', f'data_root={toy_root}')
    assert '24 written' in res.stdout
    labels = json.load(open(osp.join(toy_root, 'cls_labels.json')))['labels']
    for png in out.glob('*.png'):
        assert set(np.unique(np.array(Image.open(png)))) <= {0, 255, *labels[png.stem]}


def test_teacher_from_a_weights_file_stays_out_of_checkpoints(toy_root, tmp_path):
    """The real-config situation: CLIP comes from `pretrained=<file>`; checkpoints leave it out (in_checkpoint
    False, the default); test and resume rebuild it from the file and reproduce an uninterrupted run."""
    cfg = Config.fromfile(CLIMS_CFG)
    torch.manual_seed(1)
    weights = tmp_path / 'toy_clip.pt'
    torch.save(open_clip.CLIP(**cfg.tiny_clip).state_dict(), weights)
    enc = [f'model.encoders.{n}.{k}' for n in ('clip_image', 'clip_text') for k in ('pretrained', 'in_checkpoint')]
    extra = [f'{enc[0]}={weights}', f'{enc[1]}=False', f'{enc[2]}={weights}', f'{enc[3]}=False',
             'default_hooks.checkpoint.interval=2']
    opts = toy_options(toy_root, iters=4, extra=extra)
    full, part = tmp_path / 'full', tmp_path / 'part'
    run_tool('tools/train.py', CLIMS_CFG, '--work-dir', str(full), *opts)
    state = load_state(full / 'iter_4.pth')
    assert not any(k.startswith('encoders.') for k in state) and 'cam_head.classifier.weight' in state
    assert osp.getsize(full / 'iter_4.pth') < osp.getsize(weights) * 3  # no teacher copies per checkpoint
    # test from that checkpoint
    run_tool('tools/test.py', CLIMS_CFG, str(full / 'iter_4.pth'), '--work-dir', str(tmp_path / 't'), *opts)
    assert 'cam/mIoU' in read_logged_metrics(str(tmp_path / 't'))
    # resume from iteration 2 reproduces the uninterrupted run
    run_tool('tools/train.py', CLIMS_CFG, '--work-dir', str(part), *opts, 'train_cfg.max_iters=2')
    res = run_tool('tools/train.py', CLIMS_CFG, '--work-dir', str(part), '--resume', *opts)
    assert 'resumed' in (res.stdout + res.stderr).lower()
    resumed = load_state(part / 'iter_4.pth')
    assert resumed.keys() == state.keys()
    for k in state:
        assert torch.allclose(state[k].float(), resumed[k].float(), atol=1e-6, rtol=1e-5), k
