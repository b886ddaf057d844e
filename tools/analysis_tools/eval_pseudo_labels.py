"""mIoU of a folder of pseudo-label PNGs against the ground-truth masks of a config's split.

    python tools/analysis_tools/eval_pseudo_labels.py CONFIG PSEUDO_DIR [--split train_eval]

Prints mIoU with unsure pixels (255) counted as background, mIoU on the confident pixels only, and the
fraction of pixels that are confident (``mmseg_wsss.evaluation.label_map_quality``: the counting of CAMMetric and
mmseg's IoUMetric). ``--all-background`` scores an all-background prediction instead (the trivial baseline), and
``--centre-prior [--sigma 0.25]`` a centred Gaussian as the CAM of every labelled class at its best threshold (the
honest baseline of CAM mIoU: it knows the image labels and that objects sit near the middle).
``--reference DIR`` scores PSEUDO_DIR against another folder of PNGs instead of the ground truth (e.g. ours
against a method's released pseudo masks) and adds the fraction of pixels on which the two folders agree.
"""
import argparse
import json
import os.path as osp

import numpy as np
import torch
from mmengine.config import DictAction
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS
from tqdm import tqdm

import mmseg_wsss  # noqa: F401
from mmseg_wsss.apis import load_config
from mmseg_wsss.evaluation import CAMMetric, label_map_quality
from mmseg_wsss.utils.io import read_label_png


def ground_truths(dataset, desc: str, reference_dir=None):
    """(data info, ground-truth mask tensor) for every image of ``dataset``; with ``reference_dir``, that
    folder's PNG of each image instead of the dataset's mask."""
    for idx in tqdm(range(len(dataset)), desc=desc):
        info = dataset.get_data_info(idx)
        path = info['seg_map_path'] if reference_dir is None else osp.join(reference_dir, info['img_id'] + '.png')
        if not osp.isfile(path):
            raise FileNotFoundError(f'reference mask missing: {path}')
        yield info, torch.from_numpy(read_label_png(path).astype(np.int64))


def label_pairs(dataset, pseudo_dir=None, reference_dir=None, agreement=None):
    """(prediction, ground truth) tensors for every image of ``dataset``; all background without a folder.
    ``agreement`` (a 2-list) accumulates [equal pixels, pixels]."""
    for info, gt in ground_truths(dataset, 'eval pseudo labels', reference_dir):
        if pseudo_dir is None:
            yield torch.zeros_like(gt), gt
            continue
        path = osp.join(pseudo_dir, info['img_id'] + '.png')
        if not osp.isfile(path):
            raise FileNotFoundError(f'pseudo label missing: {path}')
        pred = torch.from_numpy(read_label_png(path).astype(np.int64))
        if agreement is not None and pred.shape == gt.shape:
            agreement[0] += int((pred == gt).sum())
            agreement[1] += gt.numel()
        yield pred, gt


def centre_prior(dataset, sigma: float = 0.25) -> dict:
    """The honest baseline of a CAM evaluation: an image-independent centred Gaussian (standard deviation
    ``sigma`` of each side) as the CAM of every class in the image label, scored as ``CAMMetric`` scores CAMs
    (restricted to the image's classes, background below each threshold, the best threshold kept). It knows the
    labels and that objects tend to sit in the middle, nothing else; a CAM method has to beat it by a margin."""
    metric = CAMMetric()
    metric.dataset_meta = dataset.metainfo
    num_fg = len(dataset.metainfo['classes']) - 1
    for info, gt in ground_truths(dataset, 'centre prior'):
        h, w = gt.shape
        ys = (torch.arange(h, dtype=torch.float32) + 0.5) / h - 0.5
        xs = (torch.arange(w, dtype=torch.float32) + 0.5) / w - 0.5
        g = torch.exp(-(ys[:, None] ** 2 + xs[None] ** 2) / (2 * sigma ** 2))
        metric.process({}, [dict(gt_sem_seg=dict(data=gt[None]), cams=dict(data=g.expand(num_fg, h, w)),
                                 img_labels=info['img_labels'])])
    m = metric.compute_metrics(metric.results)
    return dict(mIoU=m['mIoU'], best_bg_thr=m['best_bg_thr'], baseline=f'centre prior (sigma {sigma})')


def evaluate(dataset, pseudo_dir=None, reference_dir=None):
    """dict(mIoU, mIoU_confident, confident_fraction) over ``dataset``'s masks (percent), or against
    ``reference_dir``'s PNGs with ``pixel_agreement`` (percent of pixels with the same value, 255 included)."""
    agreement = [0, 0]
    out = label_map_quality(label_pairs(dataset, pseudo_dir, reference_dir, agreement),
                            len(dataset.metainfo['classes']))
    if reference_dir is not None:
        out = dict(out, reference=reference_dir, pixel_agreement=100.0 * agreement[0] / max(agreement[1], 1))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('pseudo_dir', nargs='?', default=None)
    p.add_argument('--split', default='train_eval', help='*_dataloader whose masks are the reference')
    p.add_argument('--all-background', action='store_true')
    p.add_argument('--centre-prior', action='store_true',
                   help='score a centred Gaussian as the CAM of each labelled class (best threshold), the honest '
                        'baseline of CAM mIoU')
    p.add_argument('--sigma', type=float, default=0.25, help="the centre prior's standard deviation (of a side)")
    p.add_argument('--reference', default=None, metavar='DIR',
                   help="score PSEUDO_DIR against this folder's PNGs instead of the ground truth")
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = p.parse_args(argv)
    if (args.pseudo_dir is not None) + args.all_background + args.centre_prior != 1:
        p.error('give one of PSEUDO_DIR, --all-background, --centre-prior')
    if args.reference is not None and args.pseudo_dir is None:
        p.error('--reference compares PSEUDO_DIR with another folder: give PSEUDO_DIR')
    cfg = load_config(args.config, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    ds_cfg = cfg[f'{args.split}_dataloader']['dataset']
    ds_cfg.pop('pseudo_label_dir', None)
    ds_cfg['pipeline'] = []
    dataset = DATASETS.build(ds_cfg)
    if args.centre_prior:
        print(json.dumps(centre_prior(dataset, args.sigma)))
        return
    print(json.dumps(evaluate(dataset, None if args.all_background else args.pseudo_dir, args.reference)))


if __name__ == '__main__':
    main()
