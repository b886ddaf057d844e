"""Plain CAM vs CLIMS on the toy dataset, same number of iterations, CAM mIoU of both (CPU, a few minutes).

    python tools/analysis_tools/clims_vs_cam_toy.py [--iters 1000] [--data data/toy_voc] [--out work_dirs/clims_vs_cam]
        [--clims-config configs/toy/clims_r18-tiny-d8_toy-clip_1xb8-1k_toy-112x112.py]

1. train the toy CAM network for --iters (the shared initialisation: CLIMS starts from a CAM net, as in the
   paper);
2. from that checkpoint, train --iters more as (a) plain CAM and (b) CLIMS (--clims-config);
3. measure, on the train split, CAM mIoU (tools/test.py + CAMMetric) and, at each run's best background
   threshold, the fraction of co-occurring context pixels (water / rails / grass not under an object) called
   foreground and the fraction of object pixels labelled with their own class: CLIMS's claim is less context and
   more object.

With the default config the CLIP is random, so this checks that CLIMS's plumbing and gradients work (its CAMs
change), not the paper's gain; with the toy-clip config (`make toy-teachers` first) the teacher has learnt the
toy world from its image-text corpus.
"""
import argparse
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
sys.path.insert(0, ROOT)
from mmseg_wsss.apis.cli import read_logged_metrics  # noqa: E402
from mmseg_wsss.utils.io import read_label_png  # noqa: E402
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


def context_and_object(cfg: str, ckpt: str, bg_thr: float, data: str, out: str) -> dict:
    """CAM segmentation at ``bg_thr`` on the train split (tools/make_pseudo_labels.py without CRF): the fraction of
    co-occurring context pixels (water / rails / grass not under an object, the generator's ContextMask) it calls
    foreground, and the fraction of object pixels it labels with their own class."""
    run('tools/make_pseudo_labels.py', cfg, ckpt, '--out-dir', out, '--cfg-options', f'data_root={data}',
        f'model.test_cfg.bg_thr={bg_thr}')
    ctx_fg = ctx_all = obj_hit = obj_all = 0
    for path in sorted(glob.glob(osp.join(out, '*.png'))):
        name = osp.basename(path)
        ctx_path = osp.join(data, 'ContextMask', name)
        if not osp.isfile(ctx_path):
            raise FileNotFoundError(f'{ctx_path} missing: regenerate the toy set (make_toy_voc.py writes '
                                    'ContextMask/)')
        pred = read_label_png(path)
        ctx = read_label_png(ctx_path).astype(bool)
        gt = read_label_png(osp.join(data, 'SegmentationClass', name))
        ctx_fg += int(((pred > 0) & ctx).sum())
        ctx_all += int(ctx.sum())
        obj = (gt > 0) & (gt < 255)
        obj_hit += int((pred[obj] == gt[obj]).sum())
        obj_all += int(obj.sum())
    return dict(context_as_foreground=round(ctx_fg / max(ctx_all, 1), 4),
                object_recall=round(obj_hit / max(obj_all, 1), 4))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--iters', type=int, default=1000)
    p.add_argument('--data', default='data/toy_voc')
    p.add_argument('--out', default='work_dirs/clims_vs_cam')
    p.add_argument('--clims-config', default=CLIMS_CFG)
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
    run('tools/train.py', args.clims_config, '--work-dir', f'{args.out}/clims', '--cfg-options',
        *schedule(n, args.data), f'load_from={init}')
    runs = [  # (row, config, checkpoint, tag): the one list both measurements follow
        (f'CAM, {n} iterations (shared initialisation)', CAM_CFG, init, 'init'),
        (f'CAM, {n} + {n} iterations', CAM_CFG, f'{args.out}/cam/iter_{n}.pth', 'cam'),
        (f'CLIMS ({osp.basename(args.clims_config)}), {n} + {n} iterations', args.clims_config,
         f'{args.out}/clims/iter_{n}.pth', 'clims'),
    ]
    res = {}
    for row, cfg, ckpt, tag in runs:
        res[row] = cam_miou(cfg, ckpt, f'{args.out}/test_{tag}', args.data)
        res[row].update(context_and_object(cfg, ckpt, res[row]['bg_thr'], args.data, f'{args.out}/labels_{tag}'))
    with open(f'{args.out}/summary.json', 'w') as f:
        json.dump(res, f, indent=1)
    print('\nOn the toy train split, CAMs at their best background threshold:')
    print(f'  {"run":75s} {"mIoU":>6} {"bg thr":>6} {"context as fg":>13} {"object recall":>13}')
    for k, v in res.items():
        print(f'  {k:75s} {v["mIoU"]:6.2f} {v["bg_thr"]:6.2f} {v["context_as_foreground"]:13.4f} '
              f'{v["object_recall"]:13.4f}')


if __name__ == '__main__':
    main()
