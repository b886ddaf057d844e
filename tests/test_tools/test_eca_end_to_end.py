"""The toy ECA (and its AFA base) through the standard tools: train with every term on, test with --tta --crf,
CAM pseudo labels from the checkpoint, and a 2-process run whose prototypes are identical on both ranks."""
import json
import os.path as osp

import torch

from tests.conftest import free_port, ROOT, run_tool, toy_options

ECA = 'configs/toy/eca_mit-tiny_toy-dino_1xb8-2k_toy-112x112.py'
AFA = 'configs/toy/afa_mit-tiny_1xb8-2k_toy-112x112.py'
ENV = dict(PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
# random toy-mit / toy-dino (the tests do not need `make toy-teachers`), every term from the first iteration
RANDOM = ['model.backbone.init_cfg=None', 'train_dataloader.batch_size=2', 'custom_hooks.1.interval=2',
          'custom_hooks.1.num_images=2']
ECA_NOW = RANDOM + ['model.encoders.dino.checkpoint=None'] + [
    f'model.losses.{t}.start_iter=0' for t in ('seg_cam', 'seg_carm', 'corr', 'aff')]


def test_eca_train_test_tta_crf_and_pseudo_labels(toy_root, tmp_path):
    work = tmp_path / 'eca'
    res = run_tool('tools/train.py', ECA, '--work-dir', str(work), *toy_options(toy_root, iters=2, extra=ECA_NOW),
                   env=ENV)
    log = res.stdout + res.stderr
    for key in ('cls.loss', 'seg_cam.loss_ce', 'seg_carm.loss_ce', 'corr.loss', 'aff.loss',
                'pseudo_label/carm/mIoU', 'pseudo_label/cam/mIoU'):
        assert key in log, key
    ckpt = str(work / 'iter_2.pth')
    state = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    assert 'pseudo_label_sources.carm.memory.bank' in state
    assert not any(k.startswith('encoders.dino') for k in state)  # the frozen DINO is not saved
    test_opts = ['--cfg-options', f'data_root={toy_root}', 'model.backbone.init_cfg=None',
                 'model.encoders.dino.checkpoint=None']
    run_tool('tools/test.py', ECA, ckpt, '--tta', '--crf', '--work-dir', str(tmp_path / 'test'), *test_opts, env=ENV)
    metrics = json.loads(open(next((tmp_path / 'test').glob('*/*.json'))).read().strip().splitlines()[-1])
    assert 0 <= metrics['mIoU'] <= 100 and 'cam/mIoU' in metrics
    run_tool('tools/make_pseudo_labels.py', ECA, ckpt, '--out-dir', str(tmp_path / 'labels'), '--source', 'cam',
             *test_opts, env=ENV)
    assert len(list((tmp_path / 'labels').glob('*.png'))) == 24


def test_afa_trains_with_affinity_propagation(toy_root, tmp_path):
    opts = RANDOM + ['model.losses.seg.start_iter=0', 'model.losses.aff.start_iter=0',
                     'model.pseudo_labels.cam.affinity_start_iter=1']
    res = run_tool('tools/train.py', AFA, '--work-dir', str(tmp_path / 'afa'), *toy_options(toy_root, iters=2,
                                                                                          extra=opts), env=ENV)
    assert 'aff.loss' in res.stdout + res.stderr and osp.isfile(tmp_path / 'afa' / 'iter_2.pth')


def test_eca_prototypes_identical_on_both_ranks(toy_root, tmp_path):
    cfg = tmp_path / 'eca_dump.py'
    cfg.write_text(f"""_base_ = ['{ROOT}/{ECA}']
custom_imports = dict(imports=['mmseg_wsss', 'tests.plugins'], allow_failed_imports=False)
custom_hooks = [dict(type='_DumpMemoryHook', module='pseudo_label_sources.carm.memory')]
""")
    work = tmp_path / 'dist'
    opts = [o for o in ECA_NOW if not o.startswith('custom_hooks')]
    run_tool('tools/dist_train.sh', str(cfg), '2', '--work-dir', str(work), *toy_options(toy_root, iters=2,
                                                                                         extra=opts),
             env=dict(ENV, PORT=free_port()))
    a, b = (torch.load(work / f'memory_rank{r}.pt') for r in (0, 1))
    assert torch.equal(a, b)
    state = torch.load(work / 'iter_2.pth', map_location='cpu', weights_only=False)['state_dict']
    assert torch.equal(a, state['pseudo_label_sources.carm.memory.bank'])
