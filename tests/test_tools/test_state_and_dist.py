"""Training state that learns (a memory bank in buffers): identical on both ranks of a 2-process run, saved,
and reproduced by resuming."""
import math
import os.path as osp

import pytest
import torch

from tests.conftest import free_port, ROOT, TOY_CAM_CFG, run_tool, toy_options

ENV = dict(PYTHONPATH=ROOT, OMP_NUM_THREADS='1')


def memory_config(tmp_path, sync=True):
    """The toy CAM config plus a loss term that keeps a ClassMemory (test-only module in tests/plugins.py)."""
    path = tmp_path / f'memory_{sync}.py'
    path.write_text(f"""_base_ = ['{TOY_CAM_CFG}']
custom_imports = dict(imports=['mmseg_wsss', 'tests.plugins'], allow_failed_imports=False)
model = dict(losses=dict(memory=dict(type='_MemoryLoss', num_classes=5, dim=128, sync={sync}, weight=0.1)))
custom_hooks = [dict(type='_DumpMemoryHook')]
""")
    return str(path)


def bank(path):
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']['loss_terms.memory.memory.bank']


@pytest.mark.parametrize('sync', [True, False], ids=['all-reduced', 'per-rank'])
def test_memory_identical_on_both_ranks(toy_root, tmp_path, sync):
    work = tmp_path / 'dist'
    run_tool('tools/dist_train.sh', memory_config(tmp_path, sync), '2', '--work-dir', str(work),
             *toy_options(toy_root, iters=3), env=dict(ENV, PORT=free_port()))
    a, b = (torch.load(work / f'memory_rank{r}.pt') for r in (0, 1))
    if sync:
        assert torch.equal(a, b)
        assert torch.equal(a, bank(work / 'iter_3.pth'))  # and that is what the checkpoint holds
    else:  # the official ECA code's behaviour: each GPU's memory drifts on its own data (the test can fail)
        assert not torch.equal(a, b)


def test_memory_saved_and_resumed(toy_root, tmp_path):
    cfg = memory_config(tmp_path)
    opts = toy_options(toy_root, iters=6, extra=['default_hooks.checkpoint.interval=3'])
    full, part = tmp_path / 'full', tmp_path / 'part'
    run_tool('tools/train.py', cfg, '--work-dir', str(full), *opts, env=ENV)
    run_tool('tools/train.py', cfg, '--work-dir', str(part), *opts, 'train_cfg.max_iters=3', env=ENV)
    run_tool('tools/train.py', cfg, '--work-dir', str(part), '--resume', *opts, env=ENV)
    assert not torch.equal(bank(part / 'iter_3.pth'), bank(full / 'iter_6.pth'))  # it moved after iteration 3
    assert torch.allclose(bank(part / 'iter_6.pth'), bank(full / 'iter_6.pth'), atol=1e-6)
    assert osp.isfile(part / 'memory_rank0.pt')


def test_learnable_prompts_identical_on_both_ranks(toy_root, tmp_path):
    """WeakCLIP's learnable prompt context vectors (a trainable parameter of an otherwise frozen text tower, run
    once per step) under DDP with 2 gloo processes: after 3 iterations both ranks hold the same prompts, equal to
    the checkpoint's, the prompts did move, and the logged total loss is finite on each rank."""
    cfg = tmp_path / 'weakclip_ranks.py'
    cfg.write_text(f"""_base_ = ['{ROOT}/configs/toy/weakclip_toy-clip_1xb8-1k_toy-112x112.py']
custom_imports = dict(imports=['mmseg_wsss', 'tests.plugins'], allow_failed_imports=False)
model = dict(backbone=dict(pretrained=None), encoders=dict(text=dict(pretrained=None)))
custom_hooks = [dict(type='_DumpRankStateHook')]
""")
    work = tmp_path / 'dist'
    seeds = osp.join(toy_root, 'SegmentationClass')
    run_tool('tools/dist_train.sh', str(cfg), '2', '--work-dir', str(work),
             *toy_options(toy_root, iters=3, extra=[f'train_dataloader.dataset.pseudo_label_dir={seeds}']),
             env=dict(ENV, PORT=free_port()))
    r0, r1 = (torch.load(work / f'rank_state{r}.pt', weights_only=False) for r in (0, 1))
    ctx0, ctx1 = r0['params']['encoders.text.ctx'], r1['params']['encoders.text.ctx']
    assert torch.equal(ctx0, ctx1)
    ckpt = torch.load(work / 'iter_3.pth', map_location='cpu', weights_only=False)['state_dict']
    assert torch.equal(ckpt['encoders.text.ctx'], ctx0)
    assert torch.equal(r0['initial']['encoders.text.ctx'], r1['initial']['encoders.text.ctx'])  # same start
    assert not torch.equal(r0['initial']['encoders.text.ctx'], ctx0)  # and they moved
    assert len(r0['losses']) == len(r1['losses']) == 3 and all(math.isfinite(v) for v in r0['losses'] + r1['losses'])
    assert r0['losses'] != r1['losses']  # each rank trained on its own half of the batch
