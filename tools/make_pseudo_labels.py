"""Write pseudo labels (PNG masks) from a trained model's CAMs or decoder predictions.

    python tools/make_pseudo_labels.py CONFIG CHECKPOINT --out-dir work_dirs/pseudo [--crf] [--split train]
        [--source auto|cam|decoder] [--high-thr T --low-thr T] [--conf-thr P]

* 255 marks pixels that are unsure (between --low-thr and --high-thr for CAMs, below --conf-thr for a decoder)
  and pixels predicted as a class absent from the image's labels.
* CAM thresholds default to the model's ``test_cfg.bg_thr`` (one hard threshold, no unsure band).
* Finished files are skipped on a rerun; every PNG is written atomically (a temporary file renamed into place),
  so an interrupted run never leaves a half-written PNG that looks finished.
* The output folder is what ``pseudo_label_dir`` of the retraining configs expects.
"""
import argparse
import json
import os
import os.path as osp
import sys

import mmcv
from mmengine.config import DictAction
from tqdm import tqdm

import mmseg_wsss  # noqa: F401
from mmseg_wsss.apis import (build_split_dataset, init_wsss_model, load_inference_config, predict_item,
                             pseudo_label_from_cams, pseudo_label_from_probs)
from mmseg_wsss.utils.io import atomic_write_text, save_label_png


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--out-dir', required=True)
    p.add_argument('--split', default='train', help='which *_dataloader of the config (train, val, test, ...)')
    p.add_argument('--source', default='auto', choices=['auto', 'cam', 'decoder'])
    p.add_argument('--high-thr', type=float, default=None, help='CAM foreground threshold (default bg_thr)')
    p.add_argument('--low-thr', type=float, default=None, help='CAM background threshold (default bg_thr)')
    p.add_argument('--conf-thr', type=float, default=0.0, help='decoder: min class probability, else 255')
    p.add_argument('--crf', action='store_true', help='refine with a dense CRF')
    p.add_argument('--limit', type=int, default=None, help='only the first N images')
    p.add_argument('--device', default=None)
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_inference_config(args.config, args.cfg_options, None if args.source == 'auto' else args.source)
    dataset = build_split_dataset(cfg, args.split)  # fails fast on missing data, before loading weights
    model = init_wsss_model(cfg, args.checkpoint, args.device)
    source = model.predict_source
    bg_thr = model.test_cfg.bg_thr
    high = bg_thr if args.high_thr is None else args.high_thr
    low = bg_thr if args.low_thr is None else args.low_thr
    if low > high:
        sys.exit(f'--low-thr ({low}) must not exceed --high-thr ({high})')
    palette = dataset.metainfo.get('palette')
    crf = {} if args.crf else None

    n = len(dataset) if args.limit is None else min(args.limit, len(dataset))
    os.makedirs(args.out_dir, exist_ok=True)
    done = skipped = 0
    for idx in tqdm(range(n), desc=f'pseudo labels ({source}{", crf" if args.crf else ""})'):
        info = dataset.get_data_info(idx)
        out_path = osp.join(args.out_dir, info['img_id'] + '.png')
        if osp.isfile(out_path):
            skipped += 1
            continue
        res = predict_item(model, dataset, idx)
        img = mmcv.imread(info['img_path'], channel_order='rgb') if args.crf else None
        if source == 'cam':
            label = pseudo_label_from_cams(res.cams.data, info['img_labels'], high, low, img=img, crf=crf)
        else:
            probs = res.seg_logits.data.softmax(0)
            label = pseudo_label_from_probs(probs, info['img_labels'], args.conf_thr, img=img, crf=crf)
        save_label_png(out_path, label, palette)
        done += 1
    summary = dict(config=args.config, checkpoint=args.checkpoint, split=args.split, source=source,
                   high_thr=high, low_thr=low, conf_thr=args.conf_thr, crf=args.crf, images=n)
    atomic_write_text(osp.join(args.out_dir, 'pseudo_labels.json'), json.dumps(summary, indent=1))
    print(f'pseudo labels: {done} written, {skipped} already there -> {osp.abspath(args.out_dir)}')


if __name__ == '__main__':
    main()
