"""Plain CAM vs CLIMS on the toy dataset, same number of iterations, CAM mIoU of both (CPU, a few minutes).

    python tools/analysis_tools/clims_vs_cam_toy.py [--iters 1000] [--data data/toy_voc] [--out work_dirs/clims_vs_cam]

1. train the toy CAM network for --iters (the shared initialisation: CLIMS starts from a CAM net, as in the
   paper);
2. from that checkpoint, train --iters more as (a) plain CAM and (b) CLIMS with a tiny random CLIP;
3. measure CAM mIoU on the train split (tools/test.py + CAMMetric) for all three and print them.

The CLIP here is random, so this checks that CLIMS's plumbing and gradients work (its CAMs change and stay
usable), not the paper's gain, which needs the real CLIP.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
sys.path.insert(0, ROOT)
from mmseg_wsss.apis.cli import read_logged_metrics  # noqa: E402
CAM_CFG = 'configs/toy/cam_r18-tiny-d8_1xb8-2k_toy-112x112.py'
CLIMS_CFG = 'configs/toy/clims_r18-tiny-d8_clip-tiny_1xb8-1k_toy-112x112.py'


def run(*cmd):
    print('$ ' + ' '.join(cmd), flush=True)
    subprocess.run([sys.executable, *cmd], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def schedule(iters: int, data: str):
    opts = [f'data_root={data}']
    return opts + [f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
                   f'param_scheduler.0.end={iters}', f'default_hooks.checkpoint.interval={iters}']


def cam_miou(cfg: str, ckpt: str, work: str, data: str) -> dict:
    run('tools/test.py', cfg, ckpt, '--work-dir', work, '--cfg-options',
        f'data_root={data}')
    m = read_logged_metrics(osp.join(ROOT, work))
    return dict(mIoU=m['cam/mIoU'], bg_thr=m['cam/best_bg_thr'])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--iters', type=int, default=1000)
    p.add_argument('--data', default='data/toy_voc')
    p.add_argument('--out', default='work_dirs/clims_vs_cam')
    args = p.parse_args(argv)
    os.chdir(ROOT)
    if not osp.isfile(osp.join(args.data, 'meta.json')):
        run('tools/dataset_converters/make_toy_voc.py', '--out', args.data)
    if osp.isdir(args.out):
        shutil.rmtree(args.out)
    n = args.iters
    init = f'{args.out}/init/iter_{n}.pth'
    run('tools/train.py', CAM_CFG, '--work-dir', f'{args.out}/init', '--cfg-options', *schedule(n, args.data))
    run('tools/train.py', CAM_CFG, '--work-dir', f'{args.out}/cam', '--cfg-options', *schedule(n, args.data),
        f'load_from={init}')
    run('tools/train.py', CLIMS_CFG, '--work-dir', f'{args.out}/clims', '--cfg-options', *schedule(n, args.data),
        f'load_from={init}')
    res = {
        f'CAM, {n} iterations (shared initialisation)': cam_miou(CAM_CFG, init, f'{args.out}/test_init', args.data),
        f'CAM, {n} + {n} iterations': cam_miou(CAM_CFG, f'{args.out}/cam/iter_{n}.pth', f'{args.out}/test_cam',
                                               args.data),
        f'CLIMS (tiny random CLIP), {n} + {n} iterations': cam_miou(
            CLIMS_CFG, f'{args.out}/clims/iter_{n}.pth', f'{args.out}/test_clims', args.data),
    }
    with open(f'{args.out}/summary.json', 'w') as f:
        json.dump(res, f, indent=1)
    print('\nCAM mIoU on the toy train split (best background threshold):')
    for k, v in res.items():
        print(f'  {k:50s} {v["mIoU"]:6.2f}  (bg {v["bg_thr"]})')


if __name__ == '__main__':
    main()
