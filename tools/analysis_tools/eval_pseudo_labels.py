"""mIoU of a folder of pseudo-label PNGs against the ground-truth masks of a config's split.

    python tools/analysis_tools/eval_pseudo_labels.py CONFIG PSEUDO_DIR [--split train_eval]

Prints mIoU with unsure pixels (255) counted as background, mIoU on the confident pixels only, and the
fraction of pixels that are confident. ``--all-background`` scores an all-background prediction instead
(the trivial baseline).
"""
import argparse
import json
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS
from tqdm import tqdm

import mmseg_wsss  # noqa: F401
from mmseg_wsss.evaluation import confusion_matrix, iou_from_confusion
from mmseg_wsss.utils.io import read_label_png


def evaluate(dataset, pseudo_dir=None, ignore_index=255):
    """Return dict(mIoU, mIoU_confident, confident_fraction) over ``dataset``'s masks (percent)."""
    C = len(dataset.metainfo['classes'])
    conf_all = np.zeros((C, C), np.int64)
    conf_sure = np.zeros((C, C), np.int64)
    sure = total = 0
    for idx in tqdm(range(len(dataset)), desc='eval pseudo labels'):
        info = dataset.get_data_info(idx)
        gt = torch.from_numpy(read_label_png(info['seg_map_path']).astype(np.int64))
        if pseudo_dir is None:
            pred = torch.zeros_like(gt)
        else:
            path = osp.join(pseudo_dir, info['img_id'] + '.png')
            if not osp.isfile(path):
                raise FileNotFoundError(f'pseudo label missing: {path}')
            pred = torch.from_numpy(read_label_png(path).astype(np.int64))
        unsure = pred == ignore_index
        valid = gt != ignore_index
        sure += int((~unsure & valid).sum())
        total += int(valid.sum())
        conf_all += confusion_matrix(torch.where(unsure, torch.zeros_like(pred), pred), gt, C).numpy()
        gt_sure = torch.where(unsure, torch.full_like(gt, ignore_index), gt)
        conf_sure += confusion_matrix(torch.where(unsure, torch.zeros_like(pred), pred), gt_sure, C).numpy()
    return dict(mIoU=round(float(np.nanmean(iou_from_confusion(conf_all))) * 100, 2),
                mIoU_confident=round(float(np.nanmean(iou_from_confusion(conf_sure))) * 100, 2),
                confident_fraction=round(sure / max(total, 1), 4))


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
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    ds_cfg = cfg[f'{args.split}_dataloader']['dataset']
    ds_cfg.pop('pseudo_label_dir', None)
    ds_cfg['pipeline'] = []
    dataset = DATASETS.build(ds_cfg)
    res = evaluate(dataset, None if args.all_background else args.pseudo_dir)
    print(json.dumps(res))


if __name__ == '__main__':
    main()
