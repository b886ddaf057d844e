"""What the command-line tools share: common flags, config loading, the metrics tools/test.py logs."""
import argparse
import copy
import glob
import json
import os
import os.path as osp
import subprocess
import sys

from mmengine.config import Config, DictAction

from .config import load_config as load_config_file


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--work-dir', help='the dir to save logs, models and metrics')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value pairs, e.g. train_cfg.max_iters=100')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def add_tta_args(parser: argparse.ArgumentParser) -> None:
    """``--tta``, ``--tta-scales`` and ``--tta-merge``: the test-time views of the config's ``tta_pipeline``, or
    other scales and another merge from the command line (e.g. AFA's and ECA's official code: ``--tta-scales 1.0
    0.75 1.25 --tta-merge max``). ``--tta-scales`` / ``--tta-merge`` imply ``--tta``."""
    parser.add_argument('--tta', action='store_true', help='test-time augmentation (cfg.tta_pipeline)')
    parser.add_argument('--tta-scales', type=float, nargs='+', default=None,
                        help="ratios of the test-time views instead of the config's, relative to the test resize "
                             "when the config has a fixed one, else to the image (implies --tta)")
    parser.add_argument('--tta-merge', choices=['mean', 'max'], default=None,
                        help="how the views' class probabilities merge instead of the config's (implies --tta)")


def test_resize_scale(cfg: Config):
    """The fixed ``scale`` of the test pipeline's Resize (e.g. WeakCLIP's (2048, 512)), else None."""
    steps = cfg.get('test_dataloader', {}).get('dataset', {}).get('pipeline') or cfg.get('test_pipeline') or []
    return next((tuple(t['scale']) for t in steps if t.get('type') == 'Resize' and t.get('scale')), None)


def tta_pipeline(cfg: Config, args):
    """``cfg.tta_pipeline`` with ``args.tta_scales`` as the ratios of its Resize branch (when given); sets
    ``cfg.tta_model.view_merge`` from ``args.tta_merge``. Also sets ``args.tta`` when either is given; None when
    no TTA is asked for. The ratios apply to what the config's own views are relative to: the test resize when
    the test pipeline resizes to a fixed ``scale`` (mmseg 0.x's ``img_ratios``; WeakCLIP: short side 512), the
    loaded image otherwise (``scale_factor``)."""
    args.tta = bool(args.tta or args.tta_scales or args.tta_merge)
    if not args.tta:
        return None
    pipeline = copy.deepcopy(cfg.tta_pipeline)
    if args.tta_merge:
        cfg.tta_model.view_merge = args.tta_merge
    if args.tta_scales:
        tta = next((s for s in pipeline if s.get('type') == 'TestTimeAug'), None)
        if tta is None:
            raise ValueError('--tta-scales: the config\'s tta_pipeline has no TestTimeAug step')
        base = test_resize_scale(cfg)
        views = [dict(type='Resize', scale_factor=float(r), keep_ratio=True) if base is None else
                 dict(type='Resize', scale=(int(base[0] * r), int(base[1] * r)), keep_ratio=True)
                 for r in args.tta_scales]
        branches = tta['transforms']
        i = next((i for i, b in enumerate(branches) if {t.get('type') for t in b} == {'Resize'}), None)
        if i is None:
            branches.insert(0, views)
        else:
            branches[i] = views
    return pipeline


def without_annotations(pipeline: list) -> list:
    """A TTA pipeline without its ``LoadAnnotations`` branch: the views of an image that need not have a mask
    (pseudo labels of a train split, a benchmark's synthetic image)."""
    return [dict(s, transforms=[b for b in s['transforms'] if b[0].get('type') != 'LoadAnnotations'])
            if s.get('type') == 'TestTimeAug' else s for s in pipeline]


def load_config(args) -> Config:
    """Load ``args.config`` with ``--cfg-options`` (``data_root=`` moves every loader), the launcher and the work
    dir (default work_dirs/<name>)."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    cfg = load_config_file(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def read_logged_metrics(work_dir: str) -> dict:
    """The metrics the last ``tools/test.py`` run logged in ``work_dir`` (mmengine's <timestamp>/<timestamp>.json)."""
    logs = sorted(glob.glob(osp.join(work_dir, '*', '*.json')))
    if not logs:
        raise FileNotFoundError(f'no metrics json log in {work_dir}')
    with open(logs[-1]) as f:
        return json.loads(f.read().strip().splitlines()[-1])


def schedule_options(cfg_path: str, iters: int, data_root: str) -> list:
    """--cfg-options that point the config at ``cfg_path`` at ``data_root`` and make it train ``iters`` iterations
    with one validation and one checkpoint at the end. The last parameter scheduler (the main one after any
    warm-up) ends there (its ``end``; a cosine's ``T_max`` becomes ``iters - begin``). A run shorter than the
    warm-up (tiny test runs) moves the warm-up / main boundary to ``iters // 2``."""
    sched = Config.fromfile(cfg_path).param_scheduler
    scheds = list(sched) if isinstance(sched, (list, tuple)) else [sched]
    last = len(scheds) - 1
    begin = scheds[last].get('begin', 0)
    opts = [f'data_root={data_root}', f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
            f'default_hooks.checkpoint.interval={iters}']
    if last > 0 and begin >= iters:
        begin = iters // 2
        opts += [f'param_scheduler.{last - 1}.end={begin}', f'param_scheduler.{last}.begin={begin}']
    if 'end' in scheds[last]:
        opts.append(f'param_scheduler.{last}.end={iters}')
    if 'T_max' in scheds[last]:
        opts.append(f'param_scheduler.{last}.T_max={iters - begin}')
    return opts


def run_script(root: str, *cmd, capture: bool = False, log=None) -> str:
    """Run a repository script (``cmd``: its path relative to ``root`` and its arguments) with this interpreter, as
    the analysis tools chain the normal tools; the command is printed first. Its output goes to ``log`` (an open
    file, stderr included) or is returned (``capture``), else to this process's streams. Fails on a non-zero exit."""
    print('$ ' + ' '.join(cmd), flush=True)
    out = subprocess.run([sys.executable, *cmd], cwd=root, check=True, text=True,
                         stdout=subprocess.PIPE if capture else log, stderr=subprocess.STDOUT if log else None)
    return out.stdout if capture else ''
