"""Test (evaluate) a checkpoint (same flags as mmseg's tools/test.py).

    python tools/test.py CONFIG CHECKPOINT [--tta] [--tta-scales S ...] [--tta-merge mean|max] [--crf]
        [--out DIR] [--show-dir DIR] [--cfg-options k=v ...]

The evaluation protocol (split, CAM or decoder, whole or slide, test-time scales / flip / merge, the CRF and every
parameter it ran with, metrics) is logged before the test and stored as ``protocol`` in the metrics JSON
(<work_dir>/<timestamp>/<timestamp>.json) next to the mIoU.
"""
import argparse
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import Runner

import mmseg_wsss  # noqa: F401
from mmseg_wsss.apis.cli import add_common_args, add_tta_args, load_config, tta_pipeline
from mmseg_wsss.apis.protocol import describe_protocol, evaluation_protocol
from mmseg_wsss.utils import setup_cpu_distributed


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', type=str, help='directory to save the predicted label maps (IoUMetric)')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument('--show-dir', help='directory to save painted images (relative to the work dir)')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    add_tta_args(parser)
    parser.add_argument('--crf', action='store_true',
                        help='dense CRF on the (merged) class probabilities, with or without --tta')
    add_common_args(parser)
    return parser.parse_args(argv)


def trigger_visualization_hook(cfg, args):
    default_hooks = cfg.default_hooks
    if 'visualization' in default_hooks:
        hook = default_hooks['visualization']
        hook['draw'] = True
        if args.show:
            hook['show'] = True
            hook['wait_time'] = args.wait_time
        if args.show_dir:
            cfg.visualizer['save_dir'] = args.show_dir
    else:
        raise RuntimeError('VisualizationHook must be included in default_hooks to use --show or --show-dir')
    return cfg


def build_cfg(args) -> Config:
    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    pipeline = tta_pipeline(cfg, args)  # sets args.tta when --tta-scales / --tta-merge are given
    if args.tta or args.crf:
        if args.tta:
            cfg.test_dataloader.dataset.pipeline = pipeline
        else:  # one view: the test pipeline as a one-branch TestTimeAug, so the CRF runs in the TTA model
            steps = cfg.test_dataloader.dataset.get('pipeline', cfg.get('test_pipeline'))
            cfg.test_dataloader.dataset.pipeline = [steps[0], dict(type='TestTimeAug',
                                                                   transforms=[[t] for t in steps[1:]])]
        cfg.tta_model.module = cfg.model
        if args.crf:  # the config's own CRF parameters (tta_model.crf_cfg), else DeepLab's defaults
            cfg.tta_model.crf = cfg.tta_model.get('crf_cfg') or {}
        cfg.model = cfg.tta_model
    if args.out is not None:
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        for ev in evaluators:
            if ev.get('type') == 'IoUMetric':
                ev['output_dir'] = args.out
                ev['keep_results'] = True
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = build_cfg(args)
    setup_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    # the protocol goes to the log now and, as the non-scalar `protocol`, into mmengine's metrics JSON and the
    # log line with the mIoU at the end of the test
    proto = evaluation_protocol(runner.model, cfg)
    print_log(f'evaluation protocol: {describe_protocol(proto)}', logger='current')
    runner.message_hub.update_info('test/protocol', proto)
    runner.test()


if __name__ == '__main__':
    main()
