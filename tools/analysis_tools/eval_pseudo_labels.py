"""mIoU of a folder of pseudo-label PNGs against the ground-truth masks of a config's split.

    python tools/analysis_tools/eval_pseudo_labels.py CONFIG PSEUDO_DIR [--split train_eval]

Prints mIoU with unsure pixels (255) counted as background, mIoU on the confident pixels only, and the
fraction of pixels that are confident (``mmseg_wsss.evaluation.label_map_quality``: the counting of CAMMetric and
mmseg's IoUMetric). ``--all-background`` scores an all-background prediction instead (the trivial baseline).
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
from mmseg_wsss.evaluation import label_map_quality
from mmseg_wsss.utils.io import read_label_png


def label_pairs(dataset, pseudo_dir=None):
    """(prediction, ground truth) tensors for every image of ``dataset``; all background without a folder."""
    for idx in tqdm(range(len(dataset)), desc='eval pseudo labels'):
        info = dataset.get_data_info(idx)
        gt = torch.from_numpy(read_label_png(info['seg_map_path']).astype(np.int64))
        if pseudo_dir is None:
            yield torch.zeros_like(gt), gt
            continue
        path = osp.join(pseudo_dir, info['img_id'] + '.png')
        if not osp.isfile(path):
            raise FileNotFoundError(f'pseudo label missing: {path}')
        yield torch.from_numpy(read_label_png(path).astype(np.int64)), gt


def evaluate(dataset, pseudo_dir=None):
    """dict(mIoU, mIoU_confident, confident_fraction) over ``dataset``'s masks (percent)."""
    return label_map_quality(label_pairs(dataset, pseudo_dir), len(dataset.metainfo['classes']))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('pseudo_dir', nargs='?', default=None)
    p.add_argument('--split', default='train_eval', help='*_dataloader whose masks are the reference')
    p.add_argument('--all-background', action='store_true')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = p.parse_args(argv)
    if args.pseudo_dir is None and not args.all_background:
        p.error('give PSEUDO_DIR or --all-background')
    cfg = load_config(args.config, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    ds_cfg = cfg[f'{args.split}_dataloader']['dataset']
    ds_cfg.pop('pseudo_label_dir', None)
    ds_cfg['pipeline'] = []
    dataset = DATASETS.build(ds_cfg)
    print(json.dumps(evaluate(dataset, None if args.all_background else args.pseudo_dir)))


if __name__ == '__main__':
    main()
