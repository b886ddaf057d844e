"""Speed of tools/make_pseudo_labels.py with dense CRF, with 0 (main process), 1 and 2 worker processes.

    python tools/analysis_tools/pseudo_label_speed.py CONFIG CHECKPOINT [--data data/toy_voc] [--limit 100]
        [--workers 0 1 2] [--voc-jobs 20]

1. Toy set: the whole tool (model in the main process, CRF + PNG writing in the workers) on the first --limit
   train images; images/s per worker count.
2. VOC-sized CRF: the CPU part alone (CRF + PNG) on --voc-jobs synthetic jobs the size of an average VOC image
   (500 x 375, 2 labelled classes, blob-shaped CAMs), through the same job runner; seconds per image and the
   hours this part takes for VOC train_aug's 10,582 images. The model's own time on VOC depends on the network
   and the GPU and is not included.
Numbers, not assertions: run it on the machine you care about. It also checks what the speed-up must not
change: the PNGs of every worker count are compared byte for byte (last line).
"""
import argparse
import glob
import hashlib
import os.path as osp
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
VOC_IMAGES, VOC_SIZE = 10582, (375, 500)


def load_tool():
    import importlib.util
    path = osp.join(osp.dirname(__file__), '..', 'make_pseudo_labels.py')
    spec = importlib.util.spec_from_file_location('make_pseudo_labels', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def voc_sized_jobs(n: int, out_dir: str, seed: int = 0):
    """Jobs like the tool's for images of VOC's average size: a textured RGB image and two blob CAMs."""
    from mmseg_wsss.utils.io import save_image
    rng = np.random.default_rng(seed)
    H, W = VOC_SIZE
    yy, xx = np.mgrid[:H, :W]
    jobs = []
    for i in range(n):
        img = (rng.random((H, W, 3)) * 60 + rng.integers(0, 190, 3)).astype(np.uint8)
        path = osp.join(out_dir, f'img_{i}.jpg')
        save_image(path, img)
        cams = np.zeros((20, H, W), np.float32)
        for k in rng.choice(20, 2, replace=False):
            cy, cx, r = rng.integers(80, H - 80), rng.integers(80, W - 80), rng.integers(40, 120)
            cams[k] = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r ** 2))
        ids = [int(k) + 1 for k in np.nonzero(cams.max((1, 2)))[0]]
        jobs.append(dict(source='cam', maps=cams, img_label_ids=ids, img_path=path,
                         out_path=osp.join(out_dir, f'pl_{i}.png'), high_thr=0.3, low_thr=0.3, conf_thr=0.0,
                         crf={}, palette=None))
    return jobs


def png_digests(folder: str) -> dict:
    """file name -> sha1 of every PNG in ``folder``."""
    return {osp.basename(f): hashlib.sha1(open(f, 'rb').read()).hexdigest()
            for f in sorted(glob.glob(osp.join(folder, '*.png')))}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--data', default='data/toy_voc')
    p.add_argument('--limit', type=int, default=100)
    p.add_argument('--workers', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--voc-jobs', type=int, default=20)
    args = p.parse_args(argv)
    tool = load_tool()
    rows, outputs = [], []
    for w in args.workers:
        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            tool.main([args.config, args.checkpoint, '--out-dir', out, '--crf', '--limit', str(args.limit),
                       '--workers', str(w), '--cfg-options', f'data_root={args.data}'])
            toy = args.limit / (time.perf_counter() - t)
            digests = png_digests(out)
        with tempfile.TemporaryDirectory() as out:
            jobs = voc_sized_jobs(args.voc_jobs, out)
            writer = tool.Writer(w)
            t = time.perf_counter()
            for job in jobs:
                writer.submit(job)
            writer.finish()
            per_image = (time.perf_counter() - t) / len(jobs)
            digests.update({'voc/' + k: v for k, v in png_digests(out).items() if k.startswith('pl_')})
        rows.append((w, toy, per_image, per_image * VOC_IMAGES / 3600))
        outputs.append(digests)
    print(f'\n{"workers":>7} | {"toy images/s (whole tool)":>25} | {"VOC-sized CRF+PNG s/image":>25} | '
          f'{"hours for 10,582 (CRF+PNG)":>26}')
    for w, toy, per_image, hours in rows:
        print(f'{w:>7} | {toy:>25.1f} | {per_image:>25.3f} | {hours:>26.2f}')
    same = all(o == outputs[0] for o in outputs)
    print(f"\nPNGs per worker count: {len(outputs[0])} ({args.limit} toy + {args.voc_jobs} VOC-sized); identical across "
          f"worker counts: {'yes' if same else 'NO'}")


if __name__ == '__main__':
    main()
