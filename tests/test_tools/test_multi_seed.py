"""tools/analysis_tools/multi_seed.py end to end on the toy set: seeds through the normal tools, mean +- std."""
import glob
import json

import numpy as np

from tests.conftest import TOY_CAM_CFG, load_tool, run_tool


def test_two_seeds_train_test_and_summarise(toy_root, tmp_path):
    work = tmp_path / 'ms'
    opts = [f'data_root={toy_root}', 'train_cfg.max_iters=3', 'train_cfg.val_interval=3',
            'default_hooks.checkpoint.interval=3']
    res = run_tool('tools/analysis_tools/multi_seed.py', TOY_CAM_CFG, '--seeds', '0', '1', '--work-dir', str(work),
                   '--tta', '--cfg-options', *opts, timeout=900)
    out = json.load(open(work / 'results.json'))
    assert out['seeds'] == ['seed 0', 'seed 1'] and out['test_flags'] == ['--tta']
    assert out['protocol']['tta']['flip'] and out['protocol']['crf'] is None  # the protocol of the numbers
    per = [out['per_seed'][s]['cam/mIoU'] for s in out['seeds']]
    assert out['summary']['cam/mIoU']['mean'] == round(float(np.mean(per)), 4)
    assert out['summary']['cam/mIoU']['std'] == round(float(np.std(per)), 4) and out['summary']['cam/mIoU']['n'] == 2
    # each seed reached mmengine's randomness: its training log names it, and the two runs differ
    for seed in (0, 1):
        log = open(glob.glob(str(work / f'seed{seed}' / '*' / '*.log'))[0]).read()
        assert f'seed: {seed}' in log
    w0, w1 = (out['per_seed'][f'seed {s}']['checkpoint'] for s in (0, 1))
    import torch
    a, b = (torch.load(w, map_location='cpu', weights_only=False)['state_dict'] for w in (w0, w1))
    assert any(not torch.equal(a[k], b[k]) for k in a)
    md = (work / 'results.md').read_text()
    assert '| cam/mIoU |' in md and md in res.stdout
    # a rerun keeps the seeds it has (same flags and options) and adds the new one only
    res = run_tool('tools/analysis_tools/multi_seed.py', TOY_CAM_CFG, '--seeds', '0', '1', '--work-dir', str(work),
                   '--tta', '--cfg-options', *opts, timeout=900)
    assert 'seed 0: kept' in res.stdout and 'seed 1: kept' in res.stdout and 'tools/train.py' not in res.stdout


def test_summary_ignores_non_numbers():
    tool = load_tool('tools/analysis_tools/multi_seed.py')
    s = tool.summarize({'seed 0': dict(mIoU=40.0, checkpoint='a', flag=True), 'seed 1': dict(mIoU=44.0)})
    assert s == {'mIoU': dict(mean=42.0, std=2.0, min=40.0, max=44.0, n=2)}
