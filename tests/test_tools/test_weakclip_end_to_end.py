"""WeakCLIP through the standard tools on the toy dataset: seeds from another method's make_pseudo_labels.py,
training on them, testing, and pseudo masks (Eq. 14) for retraining. The toy-clip architecture is randomly
initialised here (`make toy-teachers` is not part of the test suite)."""
import glob
import json
import os.path as osp

import numpy as np
import torch
from PIL import Image

from mmseg_wsss.apis import read_logged_metrics
from tests.conftest import ROOT, TOY_CAM_CFG, run_tool, toy_options

WEAKCLIP_CFG = osp.join(ROOT, 'configs/toy/weakclip_toy-clip_1xb8-1k_toy-112x112.py')
RANDOM_CLIP = ['model.backbone.pretrained=None', 'model.encoders.text.pretrained=None']


def test_weakclip_on_cam_seeds(toy_root, tmp_path):
    # seeds: the toy CAM baseline's pseudo labels, as a user makes them for any method
    cam = tmp_path / 'cam'
    run_tool('tools/train.py', TOY_CAM_CFG, '--work-dir', str(cam), *toy_options(toy_root, iters=20))
    seeds = tmp_path / 'seeds'
    run_tool('tools/make_pseudo_labels.py', TOY_CAM_CFG, str(cam / 'iter_20.pth'), '--out-dir', str(seeds),
             '--high-thr', '0.5', '--low-thr', '0.2', '--cfg-options', f'train_dataloader.dataset.data_root={toy_root}')
    assert len(list(seeds.glob('*.png'))) == 24

    work = tmp_path / 'weakclip'
    seed_opt = f'train_dataloader.dataset.pseudo_label_dir={seeds}'
    run_tool('tools/train.py', WEAKCLIP_CFG, '--work-dir', str(work),
             *toy_options(toy_root, iters=4, extra=RANDOM_CLIP + [seed_opt, 'default_hooks.checkpoint.interval=2',
                                                           'default_hooks.checkpoint.max_keep_ckpts=2']))
    log = open(glob.glob(str(work / '*' / '*.log'))[0]).read()
    assert 'seed.loss' in log and 'boundary.loss' in log and 'mIoU' in log
    assert 'frozen parameters are left out of the optimizer' in log
    first = torch.load(work / 'iter_2.pth', map_location='cpu', weights_only=False)['state_dict']
    last = torch.load(work / 'iter_4.pth', map_location='cpu', weights_only=False)['state_dict']
    # the frozen CLIP towers (image tower = backbone, text tower = encoder) stay out of the checkpoint, as every
    # frozen part that loads its own weights; the prompts, adapter, matcher and decoder train and are saved
    assert not [k for k in last if k.startswith('backbone.')]
    assert [k for k in last if k.startswith('encoders.')] == ['encoders.text.ctx']
    for key in ('encoders.text.ctx', 'neck.adapter.pre_norms.0.weight', 'neck.matcher.alpha',
                'decode_head.conv_seg.weight'):
        assert not torch.equal(first[key], last[key]), key

    ckpt = str(work / 'iter_4.pth')
    # tools/test.py runs from that checkpoint: the towers are refilled from the towers as built (their weights
    # file; here the config's seeded random initialisation)
    run_tool('tools/test.py', WEAKCLIP_CFG, ckpt, '--work-dir', str(tmp_path / 't'),
             *toy_options(toy_root, extra=RANDOM_CLIP))
    assert 'mIoU' in read_logged_metrics(str(tmp_path / 't'))

    masks = tmp_path / 'masks'
    run_tool('tools/make_pseudo_labels.py', WEAKCLIP_CFG, ckpt, '--out-dir', str(masks), '--source', 'decoder',
             '--cfg-options', f'train_dataloader.dataset.data_root={toy_root}', *RANDOM_CLIP)
    labels = json.load(open(osp.join(toy_root, 'cls_labels.json')))['labels']
    pngs = sorted(masks.glob('*.png'))
    assert len(pngs) == 24
    for png in pngs:  # Eq. 14: a class outside the image's labels is 255
        ids = set(np.unique(np.array(Image.open(png))).tolist()) - {0, 255}
        assert ids <= set(labels[png.stem])

    # a seed folder that lacks an image is one clear error before training
    (seeds / pngs[3].name).unlink()
    res = run_tool('tools/train.py', WEAKCLIP_CFG, '--work-dir', str(tmp_path / 'bad'),
                   *toy_options(toy_root, iters=2, extra=RANDOM_CLIP + [seed_opt]), check=False)
    assert res.returncode != 0 and f'first missing: {seeds / pngs[3].name}' in res.stdout + res.stderr
