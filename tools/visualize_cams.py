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

import mmcv
from mmengine.config import DictAction
from tqdm import tqdm

import mmseg_wsss  # noqa: F401
from mmseg_wsss.apis import build_split_dataset, init_wsss_model, load_inference_config, predict_item
from mmseg_wsss.utils.cam_ops import cams_to_seg
from mmseg_wsss.utils.io import read_label_png, save_image
from mmseg_wsss.visualization import cam_row, stack_rows


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


def main(argv=None):
    args = parse_args(argv)
    cfg = load_inference_config(args.config, args.cfg_options, source='cam')
    dataset = build_split_dataset(cfg, args.split)
    model = init_wsss_model(cfg, args.checkpoint, args.device)
    classes, palette = dataset.metainfo['classes'], dataset.metainfo['palette']
    n = min(args.num, len(dataset))
    os.makedirs(args.out_dir, exist_ok=True)
    rows, written = [], []
    for idx in tqdm(range(n), desc='CAM overlays'):
        info = dataset.get_data_info(idx)
        img = mmcv.imread(info['img_path'], channel_order='rgb')
        cams = predict_item(model, dataset, idx).cams.data
        maps = {}
        if args.pseudo_dir:
            maps['pseudo label'] = read_label_png(osp.join(args.pseudo_dir, info['img_id'] + '.png'))
        else:
            seg = cams_to_seg(cams[None], None, model.test_cfg.bg_thr)[0].cpu().numpy()
            maps[f'CAM seg (bg {model.test_cfg.bg_thr})'] = seg
        seg_path = info.get('seg_map_path')
        if seg_path and osp.isfile(seg_path):
            maps['ground truth'] = read_label_png(seg_path)
        rows.append(cam_row(img, cams.cpu().numpy(), info['img_labels'], classes, palette, maps, info['img_id'],
                            args.max_classes))
        if len(rows) == args.per_grid or idx == n - 1:
            path = osp.join(args.out_dir, f'cams_{len(written):03d}.png')
            save_image(path, stack_rows(rows))
            written.append(path)
            rows = []
    print(f'{len(written)} CAM grid(s) -> {osp.abspath(args.out_dir)}')


if __name__ == '__main__':
    main()
