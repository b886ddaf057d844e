"""WeakCLIP through the standard tools on the toy dataset: seeds from another method's make_pseudo_labels.py,
training on them, testing, and pseudo masks (Eq. 14) for retraining. The toy-clip architecture is randomly
initialised here (`make toy-teachers` is not part of the test suite)."""
import glob
import json
import os.path as osp

import numpy as np
import pytest
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
    # --keep-absent (the official masks): the same predictions without Eq. 14; they differ only where Eq. 14 put
    # 255, and eval_pseudo_labels --reference compares the two folders pixel by pixel
    kept = tmp_path / 'masks_kept'
    run_tool('tools/make_pseudo_labels.py', WEAKCLIP_CFG, ckpt, '--out-dir', str(kept), '--source', 'decoder',
             '--keep-absent', '--cfg-options', f'train_dataloader.dataset.data_root={toy_root}', *RANDOM_CLIP)
    assert json.load(open(kept / 'pseudo_labels.json'))['absent_classes'] == 'kept'
    same = total = absent = 0
    for png in pngs:
        a, b = np.array(Image.open(png)), np.array(Image.open(kept / png.name))
        assert (b != 255).all()  # no confidence threshold, no Eq. 14: every pixel keeps its argmax
        assert ((a == b) | (a == 255)).all()
        absent += int(np.isin(b, [0, *labels[png.stem]], invert=True).sum())
        same, total = same + int((a == b).sum()), total + a.size
    assert absent == total - same  # exactly the pixels of absent classes changed
    res = run_tool('tools/analysis_tools/eval_pseudo_labels.py', WEAKCLIP_CFG, str(masks), '--reference', str(kept),
                   '--split', 'train_eval', '--cfg-options', f'data_root={toy_root}', *RANDOM_CLIP)
    cmp = json.loads(res.stdout.strip().splitlines()[-1])
    assert cmp['pixel_agreement'] == pytest.approx(100.0 * same / total) and cmp['reference'] == str(kept)
    # a folder made with Eq. 14 refuses a rerun without it
    res = run_tool('tools/make_pseudo_labels.py', WEAKCLIP_CFG, ckpt, '--out-dir', str(masks), '--source', 'decoder',
                   '--keep-absent', '--cfg-options', f'train_dataloader.dataset.data_root={toy_root}', *RANDOM_CLIP,
                   check=False)
    assert res.returncode != 0 and "absent_classes='ignored'" in res.stderr

    # a seed folder that lacks an image is one clear error before training
    (seeds / pngs[3].name).unlink()
    res = run_tool('tools/train.py', WEAKCLIP_CFG, '--work-dir', str(tmp_path / 'bad'),
                   *toy_options(toy_root, iters=2, extra=RANDOM_CLIP + [seed_opt]), check=False)
    assert res.returncode != 0 and f'first missing: {seeds / pngs[3].name}' in res.stdout + res.stderr


def test_resume_equals_an_uninterrupted_run(toy_root, tmp_path):
    """WeakCLIP's learnable prompts inside a frozen text tower: a run stopped at iteration 2 and resumed equals the
    uninterrupted run at 4 for the prompt context vectors, the neck, the decoder and AdamW's state; the frozen
    towers are out of the checkpoints and refilled from their weights file on load. Dropout is off (mmengine
    reseeds on resume, so dropout masks would differ; everything else is deterministic)."""
    import open_clip
    import mmseg_wsss.models.clip.openclip  # noqa: F401  (registers the toy-clip architecture)
    torch.manual_seed(3)
    weights = tmp_path / 'toy_clip.pt'
    torch.save(open_clip.create_model('toy-clip').state_dict(), weights)
    extra = [f'model.backbone.pretrained={weights}', f'model.encoders.text.pretrained={weights}',
             f"train_dataloader.dataset.pseudo_label_dir={osp.join(toy_root, 'SegmentationClass')}",
             'model.neck.matcher.dropout=0.0', 'model.decode_head.dropout_ratio=0.0',
             'default_hooks.checkpoint.interval=2', 'default_hooks.checkpoint.max_keep_ckpts=3']
    opts = toy_options(toy_root, iters=4, extra=extra)
    full, part = tmp_path / 'full', tmp_path / 'part'
    run_tool('tools/train.py', WEAKCLIP_CFG, '--work-dir', str(full), *opts)
    run_tool('tools/train.py', WEAKCLIP_CFG, '--work-dir', str(part), *opts, 'train_cfg.max_iters=2')
    assert not osp.isfile(part / 'iter_4.pth')
    res = run_tool('tools/train.py', WEAKCLIP_CFG, '--work-dir', str(part), '--resume', *opts)
    assert 'resumed' in (res.stdout + res.stderr).lower()
    a, b = (torch.load(d / 'iter_4.pth', map_location='cpu', weights_only=False) for d in (full, part))
    sa, sb = a['state_dict'], b['state_dict']
    assert sa.keys() == sb.keys() and 'encoders.text.ctx' in sa
    assert not [k for k in sa if k.startswith('backbone.')]  # the frozen image tower is refilled, not saved
    assert [k for k in sa if k.startswith('encoders.')] == ['encoders.text.ctx']
    for k in sa:
        assert torch.allclose(sa[k].float(), sb[k].float(), atol=1e-6, rtol=1e-5), k
    first = torch.load(part / 'iter_2.pth', map_location='cpu', weights_only=False)['state_dict']
    assert not torch.equal(first['encoders.text.ctx'], sb['encoders.text.ctx'])  # the resumed part did train
    # AdamW's moments, parameter by parameter
    oa, ob = a['optimizer']['state'], b['optimizer']['state']
    assert oa.keys() == ob.keys() and len(oa) > 0
    for i in oa:
        for name in ('exp_avg', 'exp_avg_sq', 'step'):
            assert torch.allclose(torch.as_tensor(oa[i][name]).float(), torch.as_tensor(ob[i][name]).float(),
                                  atol=1e-7, rtol=1e-5), (i, name)
