"""PASCAL VOC 2012 + SBD -> SegmentationClassAug masks, the "train_aug" list and the image-level label file.

    python tools/dataset_converters/voc_aug.py data/VOCdevkit data/benchmark_RELEASE [--nproc 8]

Inputs: VOCdevkit/VOC2012/{JPEGImages, SegmentationClass, ImageSets/Segmentation/{train,val}.txt} and SBD's
benchmark_RELEASE/dataset/{cls/*.mat, train.txt, val.txt}. Writes into VOCdevkit/VOC2012:
  SegmentationClassAug/*.png   VOC's own mask where it exists (with its 255 borders), else SBD's
  ImageSets/Segmentation/train_aug.txt   (SBD train + SBD val + VOC train) - VOC val = 10,582 images
  cls_labels.json   image-level labels of every image in train_aug, train and val, from the masks
Existing masks are kept (rerun-safe); every file is written atomically.
"""
import argparse
import os.path as osp
import sys
from multiprocessing import Pool

import numpy as np
from PIL import Image
from tqdm import tqdm

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from mmseg_wsss.datasets.wsss_base import write_label_file  # noqa: E402
from mmseg_wsss.utils.class_names import VOC12_CLASSES, VOC12_PALETTE  # noqa: E402
from mmseg_wsss.utils.io import atomic_write_text, save_label_png  # noqa: E402


def read_list(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def labels_of(mask: np.ndarray, num_classes: int):
    """Segmentation ids present in a mask (background and ignore excluded)."""
    ids = np.unique(mask)
    return [int(i) for i in ids if 0 < i < num_classes]


def sbd_mask(mat_path: str) -> np.ndarray:
    from scipy.io import loadmat
    return loadmat(mat_path, mat_dtype=True, squeeze_me=True,
                   struct_as_record=False)['GTcls'].Segmentation.astype(np.uint8)


def _convert_one(job):
    img_id, voc_mask, sbd_mat, out_path = job
    if osp.isfile(out_path):
        mask = np.array(Image.open(out_path))
    elif voc_mask is not None:
        mask = np.array(Image.open(voc_mask))
        save_label_png(out_path, mask, VOC12_PALETTE)
    else:
        mask = sbd_mask(sbd_mat)
        save_label_png(out_path, mask, VOC12_PALETTE)
    return img_id, labels_of(mask, len(VOC12_CLASSES))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('devkit', help='path to VOCdevkit')
    p.add_argument('sbd', help='path to benchmark_RELEASE (SBD)')
    p.add_argument('--nproc', type=int, default=4)
    args = p.parse_args(argv)

    voc = osp.join(args.devkit, 'VOC2012')
    sbd = osp.join(args.sbd, 'dataset')
    for path in (osp.join(voc, 'JPEGImages'), osp.join(voc, 'SegmentationClass'), osp.join(sbd, 'cls')):
        if not osp.isdir(path):
            sys.exit(f'error: folder not found: {path}')
    sets = osp.join(voc, 'ImageSets', 'Segmentation')
    voc_train, voc_val = read_list(osp.join(sets, 'train.txt')), read_list(osp.join(sets, 'val.txt'))
    sbd_all = read_list(osp.join(sbd, 'train.txt')) + read_list(osp.join(sbd, 'val.txt'))
    train_aug = sorted((set(sbd_all) | set(voc_train)) - set(voc_val))
    wanted = sorted(set(train_aug) | set(voc_train) | set(voc_val))

    out_dir = osp.join(voc, 'SegmentationClassAug')
    jobs = []
    for img_id in wanted:
        voc_mask = osp.join(voc, 'SegmentationClass', img_id + '.png')
        sbd_mat = osp.join(sbd, 'cls', img_id + '.mat')
        has_voc = osp.isfile(voc_mask)
        if not has_voc and not osp.isfile(sbd_mat):
            sys.exit(f'error: no mask for {img_id} in VOC or SBD')
        jobs.append((img_id, voc_mask if has_voc else None, sbd_mat, osp.join(out_dir, img_id + '.png')))

    labels = {}
    pool = Pool(args.nproc) if args.nproc > 1 else None
    results = pool.imap_unordered(_convert_one, jobs, chunksize=16) if pool else map(_convert_one, jobs)
    for img_id, ids in tqdm(results, total=len(jobs), desc='VOC+SBD masks'):
        labels[img_id] = ids
    if pool:
        pool.close()
    atomic_write_text(osp.join(sets, 'train_aug.txt'), '\n'.join(train_aug) + '\n')
    write_label_file(osp.join(voc, 'cls_labels.json'), VOC12_CLASSES, labels)
    print(f'train_aug: {len(train_aug)} images; masks in {out_dir}; labels for {len(labels)} images')


if __name__ == '__main__':
    main()
