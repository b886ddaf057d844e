"""COCO 2014 instance annotations -> 81-class PNG masks, image lists and the image-level label file.

    python tools/dataset_converters/coco2014.py /path/to/coco --out data/coco2014 [--nproc 8]

Input: COCO/annotations/instances_{train,val}2014.json and COCO/{train2014,val2014}/ (or COCO/images/...).
Output (what COCO14WSSSDataset reads):
  OUT/images/{train2014,val2014}  (symlinks to the input image folders when they live elsewhere)
  OUT/masks/{train2014,val2014}/*.png   contiguous ids: 0 background, 1..80 in COCO category order
                                        (COCO's own category ids 1..90 have gaps); crowd regions 255
  OUT/{train2014,val2014}.txt            images with at least one (non-crowd) object, unless --keep-empty
  OUT/cls_labels.json
Larger objects are painted first so smaller ones stay visible. Existing masks are kept (rerun-safe).
"""
import argparse
import os
import os.path as osp
import sys
from multiprocessing import Pool

import numpy as np
from tqdm import tqdm

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from mmseg_wsss.datasets.wsss_base import read_label_file, write_label_file  # noqa: E402
from mmseg_wsss.utils.class_names import (COCO14_CATEGORY_IDS, COCO14_CLASSES, COCO14_PALETTE,  # noqa: E402
                                           COCO14_THING_CLASSES)
from mmseg_wsss.utils.io import atomic_write_text, save_label_png  # noqa: E402

CAT_TO_ID = {cat: i + 1 for i, cat in enumerate(COCO14_CATEGORY_IDS)}
_COCO = None


def _init(ann_file):
    global _COCO
    from pycocotools.coco import COCO
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):
        _COCO = COCO(ann_file)


def check_categories(categories: list, ann_file: str) -> None:
    """The annotation file's (id, name) pairs must be COCO's 80 thing categories as our 81-class tables have them
    (``COCO14_CATEGORY_IDS`` / ``COCO14_THING_CLASSES``); another file (LVIS, a custom COCO-format set) stops
    here with one line instead of giving silently misnamed masks."""
    name_of = dict(zip(COCO14_CATEGORY_IDS, COCO14_THING_CLASSES))
    for cat in categories:
        if name_of.get(cat['id']) != cat['name']:
            sys.exit(f"error: {ann_file}: category id {cat['id']} is {cat['name']!r}, COCO's is "
                     f"{name_of.get(cat['id'])!r}: not COCO's 80 thing categories (another dataset: its image-level "
                     'labels through tools/dataset_converters/image_folder.py)')


def mask_of(coco, img_id: int) -> np.ndarray:
    info = coco.imgs[img_id]
    mask = np.zeros((info['height'], info['width']), np.uint8)
    anns = sorted(coco.imgToAnns.get(img_id, []), key=lambda a: -a['area'])
    for ann in anns:
        m = coco.annToMask(ann).astype(bool)
        mask[m] = 255 if ann.get('iscrowd', 0) else CAT_TO_ID[ann['category_id']]
    return mask


def _convert_one(job):
    img_id, out_path = job
    stem = osp.splitext(_COCO.imgs[img_id]['file_name'])[0]
    if osp.isfile(out_path):
        from PIL import Image
        mask = np.array(Image.open(out_path))
    else:
        mask = mask_of(_COCO, img_id)
        save_label_png(out_path, mask, COCO14_PALETTE)
    ids = [int(i) for i in np.unique(mask) if 0 < i < len(COCO14_CLASSES)]
    return stem, ids


def convert_split(coco_root, out, split, nproc, keep_empty):
    ann_file = osp.join(coco_root, 'annotations', f'instances_{split}.json')
    if not osp.isfile(ann_file):
        sys.exit(f'error: annotation file not found: {ann_file}')
    img_src = next((d for d in (osp.join(coco_root, split), osp.join(coco_root, 'images', split)) if osp.isdir(d)),
                   None)
    if img_src is None:
        sys.exit(f'error: image folder {split} not found under {coco_root}')
    _init(ann_file)
    check_categories(_COCO.dataset.get('categories', []), ann_file)  # before anything is written
    img_dst = osp.join(out, 'images', split)
    os.makedirs(osp.dirname(img_dst), exist_ok=True)
    if not osp.exists(img_dst):
        os.symlink(osp.abspath(img_src), img_dst)
    jobs = [(i, osp.join(out, 'masks', split, osp.splitext(_COCO.imgs[i]['file_name'])[0] + '.png'))
            for i in sorted(_COCO.imgs)]
    labels = {}
    pool = Pool(nproc, initializer=_init, initargs=(ann_file, )) if nproc > 1 else None
    results = pool.imap_unordered(_convert_one, jobs, chunksize=32) if pool else map(_convert_one, jobs)
    for stem, ids in tqdm(results, total=len(jobs), desc=f'COCO {split} masks'):
        if ids or keep_empty:
            labels[stem] = ids
    if pool:
        pool.close()
    atomic_write_text(osp.join(out, f'{split}.txt'), '\n'.join(sorted(labels)) + '\n')
    return labels


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('coco_root')
    p.add_argument('--out', default='data/coco2014')
    p.add_argument('--splits', nargs='+', default=['train2014', 'val2014'])
    p.add_argument('--nproc', type=int, default=4)
    p.add_argument('--keep-empty', action='store_true', help='also list images without objects')
    args = p.parse_args(argv)
    label_path = osp.join(args.out, 'cls_labels.json')
    labels = read_label_file(label_path)['labels'] if osp.isfile(label_path) else {}
    for split in args.splits:
        labels.update(convert_split(args.coco_root, args.out, split, args.nproc, args.keep_empty))
    write_label_file(label_path, COCO14_CLASSES, labels)
    print(f'COCO 2014: labels for {len(labels)} images -> {osp.abspath(args.out)}')


if __name__ == '__main__':
    main()
