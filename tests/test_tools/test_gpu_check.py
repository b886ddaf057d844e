"""tools/analysis_tools/gpu_check.sh: skips cleanly without CUDA, runs (forced onto the CPU) one line per config and
AMP setting, reports a failing config; its benchmark reads each real config's own per-GPU batch and crop."""
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config

from tests.conftest import ROOT, TOY_CAM_CFG, load_tool, run_tool

GPU_CHECK = 'tools/analysis_tools/gpu_check.sh'


@pytest.mark.skipif(torch.cuda.is_available(), reason='on a CUDA machine the check runs for minutes')
def test_gpu_check_skips_without_cuda():
    res = run_tool(GPU_CHECK)
    assert res.returncode == 0 and res.stdout.strip() == 'gpu_check: no CUDA device on this machine: skipped ' \
        '(nothing run)'


def test_gpu_check_lines_on_cpu_and_a_failing_config():
    res = run_tool(GPU_CHECK, TOY_CAM_CFG, 'configs/toy/no_such_config.py', check=False,
                   env=dict(GPU_CHECK_DEVICE='cpu', ITERS='1'))
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith(osp.basename(TOY_CAM_CFG))]
    assert len(lines) == 2, res.stdout + res.stderr
    batch, crop = load_tool('tools/analysis_tools/benchmark.py').config_batch_and_crop(Config.fromfile(TOY_CAM_CFG))
    for line, amp in zip(lines, ('amp off', 'amp bf16')):
        assert f'cpu, {amp}, batch {batch} x {crop}, iter ' in line and 'losses finite' in line
        assert re.search(r'train [0-9.]+ s/iter', line) and 'peak ' in line and 'encoder runs: none' in line
    assert re.search(r'tta [0-9.]+ s', lines[0]) and 'tta' not in lines[1]  # one TTA inference per config
    # the missing config is reported on its own line and makes the exit status non-zero
    assert res.returncode == 1 and 'no_such_config.py: amp off: FAILED (exit' in res.stdout


REAL = [p for p in sorted(glob.glob(osp.join(ROOT, 'configs', '*', '*.py')))
        if '/_base_/' not in p and '/toy/' not in p]


@pytest.mark.parametrize('path', REAL, ids=[osp.relpath(p, ROOT) for p in REAL])
def test_benchmark_reads_the_paper_batch_and_crop_of_each_config(path):
    """The GPU check runs each config at the per-GPU batch and crop its name states ({gpus}xb{batch}, -{crop})."""
    name = osp.basename(path)
    batch = int(re.search(r'_\d+xb(\d+)-', name).group(1))
    crop = int(re.search(r'-(\d+)x\d+\.py$', name).group(1))
    assert load_tool('tools/analysis_tools/benchmark.py').config_batch_and_crop(Config.fromfile(path)) == \
        (batch, crop)
