"""Train a model from a config (same flags as mmseg's tools/train.py).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--cfg-options k=v ...]
    bash tools/dist_train.sh CONFIG GPUS [...]
"""
import argparse

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import Runner

import mmseg_wsss  # noqa: F401  (registers modules, checkpoint-loading patches)
from mmseg_wsss.apis.cli import add_common_args, load_config
from mmseg_wsss.utils import setup_cpu_distributed


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume', nargs='?', const='auto', default=None,
        help='resume from the latest checkpoint in the work dir, or from the given checkpoint')
    parser.add_argument('--amp', action='store_true', default=False, help='enable automatic mixed precision')
    add_common_args(parser)
    return parser.parse_args(argv)


def build_cfg(args) -> Config:
    cfg = load_config(args)
    if args.amp:
        if not torch.cuda.is_available():
            raise SystemExit('--amp needs a CUDA GPU (mmengine\'s AmpOptimWrapper); this machine has none')
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in the config.', logger='current')
        else:
            assert wrapper == 'OptimWrapper', f'--amp needs an OptimWrapper, got {wrapper}'
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = build_cfg(args)
    setup_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    runner.train()
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # an orderly shutdown of the process group: every rank waits for the others (rank 0 may still be
        # writing its checkpoint), then all destroy it together; a worker that exits with gloo's threads still
        # talking to a peer can abort at interpreter exit ("terminate called without an active exception")
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == '__main__':
    main()
