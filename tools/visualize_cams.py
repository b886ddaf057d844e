"""Overlay CAMs and pseudo labels on images and save them as PNG grids.

    python tools/visualize_cams.py CONFIG CHECKPOINT --out-dir work_dirs/cam_vis [--split train] [--num 16]
        [--per-grid 8] [--pseudo-dir DIR]

One row per image: the image, one overlay per labelled class (jet colour map, class name on top), the CAM
segmentation at the model's ``bg_thr`` (or the PNG from ``--pseudo-dir``), and the ground truth when the
split has masks.
"""
import argparse
import os
import os.path as osp

import cv2
import mmcv
import numpy as np
from mmengine.config import DictAction
from tqdm import tqdm

import mmseg_wsss  # noqa: F401
from mmseg_wsss.apis import build_model, build_split_dataset, load_inference_config, predict_one
from mmseg_wsss.utils.cam_ops import cams_to_seg
from mmseg_wsss.utils.io import read_label_png, save_image

TILE = 160


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--out-dir', required=True)
    p.add_argument('--split', default='train')
    p.add_argument('--num', type=int, default=16, help='number of images')
    p.add_argument('--per-grid', type=int, default=8, help='rows per PNG')
    p.add_argument('--max-classes', type=int, default=3, help='CAM columns per row')
    p.add_argument('--pseudo-dir', default=None, help='show these pseudo-label PNGs instead of thresholded CAMs')
    p.add_argument('--device', default=None)
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args(argv)


def _tile(img: np.ndarray, text: str = '') -> np.ndarray:
    h, w = img.shape[:2]
    s = TILE / max(h, w)
    img = cv2.resize(img, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_NEAREST)
    out = np.full((TILE + 14, TILE, 3), 255, np.uint8)
    out[14:14 + img.shape[0], :img.shape[1]] = img
    if text:
        cv2.putText(out, text[:22], (2, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def overlay(img: np.ndarray, cam: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend a [0, 1] map, jet-coloured, over an RGB image."""
    heat = cv2.applyColorMap((np.clip(cam, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    return (img * (1 - alpha) + heat * alpha).astype(np.uint8)


def colorize(label: np.ndarray, palette) -> np.ndarray:
    pal = np.zeros((256, 3), np.uint8)
    pal[:len(palette)] = np.asarray(palette, np.uint8)[:256]
    pal[255] = (224, 224, 192)
    return pal[label]


def main(argv=None):
    args = parse_args(argv)
    cfg = load_inference_config(args.config, args.cfg_options, source='cam')
    dataset = build_split_dataset(cfg, args.split)
    model = build_model(cfg, args.checkpoint, args.device)
    classes, palette = dataset.metainfo['classes'], dataset.metainfo['palette']
    n = min(args.num, len(dataset))
    os.makedirs(args.out_dir, exist_ok=True)
    rows, written = [], []
    for idx in tqdm(range(n), desc='CAM overlays'):
        info = dataset.get_data_info(idx)
        img = mmcv.imread(info['img_path'], channel_order='rgb')
        cams = predict_one(model, dataset, idx).cams.data
        tiles = [_tile(img, info['img_id'])]
        for c in info['img_labels'][:args.max_classes]:
            tiles.append(_tile(overlay(img, cams[c - 1].cpu().numpy()), classes[c]))
        tiles += [_tile(np.full_like(img, 255))] * (args.max_classes - min(len(info['img_labels']),
                                                                             args.max_classes))
        if args.pseudo_dir:
            pl = read_label_png(osp.join(args.pseudo_dir, info['img_id'] + '.png'))
            tiles.append(_tile(colorize(pl, palette), 'pseudo label'))
        else:
            seg = cams_to_seg(cams[None], None, model.test_cfg.bg_thr)[0].cpu().numpy().astype(np.uint8)
            tiles.append(_tile(colorize(seg, palette), f'CAM seg (bg {model.test_cfg.bg_thr})'))
        seg_path = info.get('seg_map_path')
        if seg_path and osp.isfile(seg_path):
            tiles.append(_tile(colorize(read_label_png(seg_path), palette), 'ground truth'))
        rows.append(np.concatenate(tiles, axis=1))
        if len(rows) == args.per_grid or idx == n - 1:
            width = max(r.shape[1] for r in rows)
            grid = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255)
                                   for r in rows])
            path = osp.join(args.out_dir, f'cams_{len(written):03d}.png')
            save_image(path, grid)
            written.append(path)
            rows = []
    print(f'{len(written)} CAM grid(s) -> {osp.abspath(args.out_dir)}')


if __name__ == '__main__':
    main()
