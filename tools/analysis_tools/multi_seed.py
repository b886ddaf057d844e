"""Train and test one config with several seeds through the normal tools; report mean +- std, never the best run.

    python tools/analysis_tools/multi_seed.py CONFIG --seeds 0 1 2 [--work-dir work_dirs/multi_seed/<name>]
        [--tta] [--crf] [--cfg-options k=v ...]

For each seed: ``tools/train.py CONFIG --work-dir WORK/seed<s> --cfg-options randomness.seed=<s> ...`` (mmengine's
seed: Python, NumPy and torch, each worker's too), then ``tools/test.py`` on the last checkpoint (with ``--tta`` /
``--crf`` when given; the protocol it used is in each seed's metrics). ``--cfg-options`` go to both. Writes
WORK/results.json (every metric of every seed and the protocol; the commands in WORK/seed<s>/commands.log) and
WORK/results.md (one row per numeric metric: mean +- std (population), min, max, n). A seed whose results are
already there (same test flags and options) is not rerun, so an interrupted run continues; ``--force`` reruns
all. WSSS papers often report the best of several runs; users then get 1-3 points less. This tool's table is the
results policy of the README: mean +- std over seeds.
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys

import numpy as np

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
sys.path.insert(0, ROOT)
from mmseg_wsss.apis.cli import read_logged_metrics, run_script  # noqa: E402
from mmseg_wsss.utils.io import atomic_write_text  # noqa: E402


def last_checkpoint(work: str) -> str:
    """The checkpoint mmengine's CheckpointHook named last (``last_checkpoint``), else the highest iteration."""
    marker = osp.join(work, 'last_checkpoint')
    if osp.isfile(marker):
        path = open(marker).read().strip()
        if osp.isfile(path):
            return path
    found = sorted(glob.glob(osp.join(work, 'iter_*.pth')), key=lambda p: int(p.rsplit('_', 1)[1][:-4]))
    if not found:
        raise FileNotFoundError(f'no checkpoint in {work}: did training save one (default_hooks.checkpoint)?')
    return found[-1]


def run(cmd: list, log_path: str) -> None:
    with open(log_path, 'a') as log:
        run_script(ROOT, *cmd, log=log)


def summarize(per_seed: dict) -> dict:
    """metric -> dict(mean, std, min, max, n) over the seeds that report it (numbers only)."""
    keys = sorted({k for m in per_seed.values() for k, v in m.items() if isinstance(v, (int, float))
                   and not isinstance(v, bool)})
    out = {}
    for k in keys:
        vals = np.array([m[k] for m in per_seed.values() if isinstance(m.get(k), (int, float))], dtype=float)
        out[k] = dict(mean=round(float(vals.mean()), 4), std=round(float(vals.std()), 4),
                      min=round(float(vals.min()), 4), max=round(float(vals.max()), 4), n=int(vals.size))
    return out


def table(summary: dict, seeds: list) -> str:
    lines = [f'seeds {", ".join(map(str, seeds))}: mean ± std (population) over seeds, min, max', '',
             '| metric | mean ± std | min | max | n |', '|---|---:|---:|---:|---:|']
    for k, s in summary.items():
        lines.append(f"| {k} | {s['mean']:.2f} ± {s['std']:.2f} | {s['min']:.2f} | {s['max']:.2f} | {s['n']} |")
    return '\n'.join(lines) + '\n'


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--work-dir', help='default work_dirs/multi_seed/<config name>')
    p.add_argument('--tta', action='store_true', help="tools/test.py's --tta")
    p.add_argument('--crf', action='store_true', help="tools/test.py's --crf")
    p.add_argument('--force', action='store_true', help='rerun seeds that already have results')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                   help='for both tools/train.py and tools/test.py')
    args = p.parse_args(argv)
    if len(set(args.seeds)) < len(args.seeds):
        p.error(f'--seeds repeats a seed: {args.seeds}')
    name = osp.splitext(osp.basename(args.config))[0]
    work = osp.abspath(args.work_dir or osp.join(ROOT, 'work_dirs', 'multi_seed', name))
    os.makedirs(work, exist_ok=True)
    results_path = osp.join(work, 'results.json')
    previous = json.load(open(results_path)) if osp.isfile(results_path) and not args.force else {}
    test_flags = (['--tta'] if args.tta else []) + (['--crf'] if args.crf else [])
    per_seed, protocol = {}, previous.get('protocol')

    def save() -> dict:
        summary = summarize(per_seed)
        atomic_write_text(results_path, json.dumps(dict(
            config=args.config, seeds=list(per_seed), test_flags=test_flags, cfg_options=args.cfg_options,
            protocol=protocol, per_seed=per_seed, summary=summary), indent=1))
        return summary

    for seed in args.seeds:
        key = f'seed {seed}'
        seed_dir = osp.join(work, f'seed{seed}')
        if key in previous.get('per_seed', {}) and previous.get('test_flags') == test_flags \
                and previous.get('cfg_options') == args.cfg_options:
            per_seed[key] = previous['per_seed'][key]
            print(f'{key}: kept from {results_path}', flush=True)
            continue
        os.makedirs(seed_dir, exist_ok=True)
        log = osp.join(seed_dir, 'commands.log')
        opts = ['--cfg-options', f'randomness.seed={seed}', *args.cfg_options]
        run(['tools/train.py', args.config, '--work-dir', seed_dir, *opts], log)
        ckpt = last_checkpoint(seed_dir)
        run(['tools/test.py', args.config, ckpt, '--work-dir', osp.join(seed_dir, 'test'), *test_flags, *opts], log)
        metrics = read_logged_metrics(osp.join(seed_dir, 'test'))
        protocol = metrics.pop('protocol', None) or protocol
        per_seed[key] = dict(metrics, checkpoint=osp.relpath(ckpt, ROOT) if ckpt.startswith(ROOT) else ckpt)
        print(f'{key}: ' + ', '.join(f'{k} {v}' for k, v in metrics.items() if 'mIoU' in k), flush=True)
        save()  # after every seed: an interrupted run keeps what it measured
    summary = save()
    md = table(summary, args.seeds)
    atomic_write_text(osp.join(work, 'results.md'), md)
    print('\n' + md + f'written: {results_path}, {osp.join(work, "results.md")}')


if __name__ == '__main__':
    main()
