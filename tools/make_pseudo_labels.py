"""Write pseudo labels (PNG masks) from a trained model's CAMs or decoder predictions.

    python tools/make_pseudo_labels.py CONFIG CHECKPOINT --out-dir work_dirs/pseudo [--crf] [--split train]
        [--source auto|cam|decoder] [--high-thr T --low-thr T] [--conf-thr P] [--keep-absent]
        [--tta] [--tta-scales S ...] [--tta-merge mean|max]

* 255 marks pixels that are unsure (between --low-thr and --high-thr for CAMs, below --conf-thr for a decoder)
  and pixels predicted as a class absent from the image's labels (a decoder's: kept with ``--keep-absent``).
* CAM thresholds default to the model's ``test_cfg.bg_thr`` (one hard threshold, no unsure band).
* ``--tta``: the config's ``tta_pipeline`` views (scales x flip; ``--tta-scales`` / ``--tta-merge`` change them)
  merged as ``tta_model.view_merge`` says (class probabilities; CAMs by their mean), before the CRF.
* ``--crf``: the config's ``pseudo_label_crf`` (a method's own parameters, e.g. WeakCLIP's), else the project's
  CRF defaults. Every parameter it ran with is written to ``pseudo_labels.json`` with the TTA views.
* Finished files are skipped on a rerun; every PNG is written atomically (a temporary file renamed into place),
  so an interrupted run never leaves a half-written PNG that looks finished.
* ``--workers N`` runs the CRF and the PNG writing in N worker processes while the model runs on the next
  images (0: everything in the main process). The PNGs are the same either way (tested); speed:
  ``tools/analysis_tools/pseudo_label_speed.py``.
* The output folder is what ``pseudo_label_dir`` of the retraining configs expects.
"""
import argparse
import collections
import json
import multiprocessing as mp
import os
import os.path as osp
import sys

import torch
from mmengine.config import DictAction
from tqdm import tqdm

import mmseg_wsss  # noqa: F401
from mmseg_wsss.apis import build_split_dataset, init_wsss_model, load_inference_config, predict_item
from mmseg_wsss.apis.cli import add_tta_args, tta_pipeline, without_annotations
from mmseg_wsss.apis.protocol import crf_parameters, tta_views
from mmseg_wsss.apis.pseudo_labels import write_pseudo_label
from mmseg_wsss.utils.io import atomic_write_text


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
    p.add_argument('--keep-absent', action='store_true',
                   help='decoder: keep pixels predicted as a class absent from the image label (default: 255, '
                        "WeakCLIP's Eq. 14); the official WeakCLIP masks were made without that step")
    p.add_argument('--crf', action='store_true',
                   help="refine with a dense CRF (the config's pseudo_label_crf, else the defaults)")
    add_tta_args(p)
    p.add_argument('--limit', type=int, default=None, help='only the first N images')
    p.add_argument('--workers', type=int, default=0,
                   help='worker processes for the CRF and PNG writing (0: in the main process)')
    p.add_argument('--device', default=None)
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args(argv)


class Writer:
    """Runs :func:`write_pseudo_label` jobs in the main process (``workers=0``) or in a pool of worker processes,
    with at most ``2 x workers`` jobs in flight (bounded memory); errors in a worker are raised here."""

    def __init__(self, workers: int):
        self.pool = None
        if workers > 0:
            self.pool = mp.get_context('fork').Pool(workers, initializer=torch.set_num_threads, initargs=(1, ))
        self.limit = 2 * max(workers, 1)
        self.pending = collections.deque()

    def submit(self, job: dict) -> None:
        if self.pool is None:
            write_pseudo_label(job)
            return
        self.pending.append(self.pool.apply_async(write_pseudo_label, (job, )))
        while len(self.pending) >= self.limit:
            self.pending.popleft().get()

    def finish(self) -> None:
        if self.pool is None:
            return
        try:
            while self.pending:
                self.pending.popleft().get()
        finally:
            self.pool.close()
            self.pool.join()


def main(argv=None):
    args = parse_args(argv)
    cfg = load_inference_config(args.config, args.cfg_options, None if args.source == 'auto' else args.source)
    pipeline = tta_pipeline(cfg, args)  # sets args.tta when --tta-scales / --tta-merge are given
    if args.tta:  # the views without the masks (a train split need not have them)
        pipeline = without_annotations(pipeline)
    # fails fast on missing data, before loading weights
    dataset = build_split_dataset(cfg, args.split, pipeline=pipeline if args.tta else None)
    args.views_pipeline = pipeline
    jobs = Writer(args.workers)  # forked before the model exists or any torch thread pool starts
    try:
        done, skipped, summary = run(args, cfg, dataset, jobs)
    finally:
        jobs.finish()  # every submitted image is written (or its error raised) before the tool exits
    atomic_write_text(osp.join(args.out_dir, 'pseudo_labels.json'), json.dumps(summary, indent=1))
    print(f'pseudo labels: {done} written, {skipped} already there -> {osp.abspath(args.out_dir)}')


def run(args, cfg, dataset, jobs: Writer):
    """Predict every image of ``dataset`` in this process and hand the pseudo-label writing to ``jobs``."""
    model = init_wsss_model(cfg, args.checkpoint, args.device)
    source = model.predict_source
    bg_thr = model.test_cfg.bg_thr
    if args.tta:  # the CRF runs afterwards, in the writer, on the merged maps
        from mmseg.registry import MODELS
        if source == 'cam' and args.tta_merge == 'max':
            sys.exit('--tta-merge max: CAMs of the views are merged by their mean (max merges class probabilities, '
                     'a decoder\'s); drop it or use --source decoder')
        model = MODELS.build(dict(cfg.tta_model, module=model, crf=None, keep_probs=True))
    if args.keep_absent and source == 'cam':
        sys.exit('--keep-absent is for a decoder\'s predictions (CAMs exist only for the image\'s classes)')
    high = bg_thr if args.high_thr is None else args.high_thr
    low = bg_thr if args.low_thr is None else args.low_thr
    if low > high:
        sys.exit(f'--low-thr ({low}) must not exceed --high-thr ({high})')
    palette = dataset.metainfo.get('palette')
    crf = crf_parameters(cfg.get('pseudo_label_crf') or {}) if args.crf else None
    n = len(dataset) if args.limit is None else min(args.limit, len(dataset))
    tta = None
    if args.tta:
        tta = dict(tta_views(args.views_pipeline), **(dict(cams_merge='mean') if source == 'cam' else
                                                      dict(merge=model.view_merge)))
    protocol = dict(split=args.split, source=source, high_thr=high, low_thr=low, conf_thr=args.conf_thr, crf=crf,
                    tta=tta, absent_classes='kept' if args.keep_absent else 'ignored')
    check_same_protocol(args.out_dir, protocol)
    os.makedirs(args.out_dir, exist_ok=True)
    done = skipped = 0
    for idx in tqdm(range(n), desc=f'pseudo labels ({source}{", crf" if args.crf else ""})'):
        info = dataset.get_data_info(idx)
        out_path = osp.join(args.out_dir, info['img_id'] + '.png')
        if osp.isfile(out_path):
            skipped += 1
            continue
        res = predict_item(model, dataset, idx)
        if source == 'cam':
            maps = res.cams.data
        else:
            maps = res.seg_probs.data if args.tta else res.seg_logits.data.softmax(0)
        jobs.submit(dict(source=source, maps=maps.float().cpu().numpy(), img_label_ids=None if args.keep_absent else info['img_labels'],
                         img_path=info['img_path'], out_path=out_path, high_thr=high, low_thr=low,
                         conf_thr=args.conf_thr, crf=crf, palette=palette))
        done += 1
    summary = dict(config=args.config, checkpoint=args.checkpoint, **protocol, images=n, workers=args.workers)
    return done, skipped, summary


def check_same_protocol(out_dir: str, protocol: dict) -> None:
    """A folder holds pseudo labels of one protocol: finished PNGs are skipped on a rerun, so a rerun with other
    settings (source, thresholds, CRF, TTA) into a folder that a finished run described would mix two protocols
    under one ``pseudo_labels.json``; it stops instead, naming the first difference."""
    path = osp.join(out_dir, 'pseudo_labels.json')
    if not osp.isfile(path) or not any(f.endswith('.png') for f in os.listdir(out_dir)):
        return
    with open(path) as f:
        before = json.load(f)
    defaults = dict(absent_classes='ignored')  # folders written before the key existed
    for key, value in protocol.items():
        was = before.get(key, defaults.get(key))
        if json.loads(json.dumps(value)) != was:
            sys.exit(f'{out_dir} holds pseudo labels made with {key}={was!r}, this run has {value!r}: '
                     'use another --out-dir (or empty that one) so that one folder holds one protocol')


if __name__ == '__main__':
    main()
