"""A folder of images + image-level labels (CSV or JSON) -> the VOC layout our WSSS configs read.

    python tools/dataset_converters/image_folder.py IMAGES LABELS --out data/custom_wsss
        [--masks MASKS] [--classes a,b,c | --classes classes.txt] [--val-fraction 0.1] [--seed 0] [--link]

IMAGES: a folder of images (sub-folders allowed). LABELS, one entry per training image (a path relative to
IMAGES, with or without its extension), in one of:
  * CSV: two columns ``image,labels`` (a header row with those names is optional), labels separated by ``;`` or
    ``|`` (``cat;dog``); an empty labels cell is an image with no foreground class;
  * JSON: ``{"image": ["cat", "dog"], ...}``, or ``{"classes": [...], "labels": {"image": [...], ...}}``, or a
    list of ``{"image": ..., "labels": [...]}``.
Labels are class names. The class list (background first, then these) is ``--classes`` if given, else the JSON's
``classes``, else the names in sorted order; it is written to OUT/meta.json and OUT/cls_labels.json and printed.
MASKS (optional, for evaluation only; training never reads them): PNG label maps with the same relative names,
pixel value = class index in that list (0 background, 255 ignore); checked. Images with a mask form the
evaluation lists: ``--val-fraction`` of them (seeded) go to val.txt (held out of training), the rest stay in
train.txt and in train_eval.txt (CAMs are measured on training images, the WSSS convention).

Writes OUT/JPEGImages/<id><ext> (copies, or symlinks with --link; ids are relative paths with '/' -> '__'; if the
images mix formats, all are re-encoded as PNG, losslessly), OUT/SegmentationClass/<id>.png,
OUT/ImageSets/Segmentation/{train,val,train_eval}.txt, OUT/cls_labels.json and OUT/meta.json (classes,
img_suffix). Train on it with a config that inherits configs/_base_/datasets/custom_wsss.py (README, "Your own
dataset"). Every problem (an image without labels, a label without an image, an unknown class, a bad mask value)
stops the conversion with one line naming it.
"""
import argparse
import csv
import json
import os
import os.path as osp
import shutil
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from mmseg_wsss.datasets.wsss_base import write_label_file  # noqa: E402
from mmseg_wsss.utils.io import atomic_write_text, read_label_png, save_label_png  # noqa: E402

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


class ConversionError(ValueError):
    pass


def _split_names(cell: str) -> list:
    for sep in ('|', ';'):
        cell = cell.replace(sep, '\n')
    return [n.strip() for n in cell.split('\n') if n.strip()]


def read_labels(path: str):
    """(image -> class names, classes from the file or None)."""
    if path.lower().endswith('.json'):
        with open(path) as f:
            data = json.load(f)
        if isinstance(data, list):
            return {str(d['image']): list(d['labels']) for d in data}, None
        if isinstance(data, dict) and 'labels' in data and isinstance(data['labels'], dict):
            return {str(k): list(v) for k, v in data['labels'].items()}, data.get('classes')
        return {str(k): list(v) for k, v in data.items()}, None
    with open(path, newline='') as f:
        rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    if rows and [c.strip().lower() for c in rows[0][:2]] == ['image', 'labels']:
        rows = rows[1:]
    out = {}
    for i, r in enumerate(rows):
        if len(r) > 2:
            raise ConversionError(f'{path}: row {i + 1} has {len(r)} columns; write image,labels with the labels '
                                  'separated by ; or | (quote a cell that holds a comma)')
        out[r[0].strip()] = _split_names(r[1] if len(r) > 1 else '')
    return out, None


def class_list(names_by_image: dict, from_file, classes_arg) -> list:
    """background + the foreground classes in their order."""
    if classes_arg:
        fg = [c.strip() for c in (open(classes_arg).read().splitlines() if osp.isfile(classes_arg)
                                  else classes_arg.split(',')) if c.strip()]
    elif from_file:
        fg = list(from_file)
    else:
        fg = sorted({n for names in names_by_image.values() for n in names})
    fg = [c for c in fg if c != 'background']
    if len(set(fg)) < len(fg):
        raise ConversionError(f'the class list repeats a name: {fg}')
    return ['background'] + fg


def find_images(root: str) -> dict:
    """relative path without extension -> relative path, for every image under ``root``."""
    found = {}
    for d, _, files in os.walk(root):
        for name in files:
            if name.lower().endswith(IMAGE_EXTS):
                rel = osp.relpath(osp.join(d, name), root)
                stem = osp.splitext(rel)[0]
                if stem in found:
                    raise ConversionError(f'two images share the name {stem}: {found[stem]} and {rel}')
                found[stem] = rel
    return found


def image_id(stem: str) -> str:
    return stem.replace(os.sep, '__').replace('/', '__')


def convert(images: str, labels: str, out: str, masks=None, classes=None, val_fraction: float = 0.1,
            seed: int = 0, link: bool = False) -> dict:
    names_by_image, file_classes = read_labels(labels)
    classes = class_list(names_by_image, file_classes, classes)
    index = {c: i for i, c in enumerate(classes)}
    found = find_images(images)
    entries = {}  # stem -> class ids
    for key, names in names_by_image.items():
        stem = osp.splitext(key)[0] if osp.splitext(key)[1].lower() in IMAGE_EXTS else key
        if stem not in found:
            raise ConversionError(f'{labels}: {key!r} is not an image under {images}')
        unknown = [n for n in names if n not in index]
        if unknown:
            raise ConversionError(f'{labels}: {key!r} has classes {unknown} that are not in the class list '
                                  f'{classes[1:]}')
        entries[stem] = sorted({index[n] for n in names if n != 'background'})
    unlabelled = sorted(set(found) - set(entries))
    if unlabelled:
        raise ConversionError(f'{len(unlabelled)} images under {images} have no entry in {labels} (first: '
                              f'{unlabelled[:3]}); add them (an empty label list is allowed) or move them out')
    suffixes = {osp.splitext(found[s])[1].lower() for s in entries}
    reencode = len(suffixes) > 1
    img_suffix = '.png' if reencode else suffixes.pop()
    os.makedirs(osp.join(out, 'JPEGImages'), exist_ok=True)
    label_ids, with_mask = {}, []
    for stem in sorted(entries):
        iid = image_id(stem)
        src, dst = osp.join(images, found[stem]), osp.join(out, 'JPEGImages', iid + img_suffix)
        if reencode:
            Image.open(src).convert('RGB').save(dst)
        elif link:
            if osp.lexists(dst):
                os.remove(dst)
            os.symlink(osp.abspath(src), dst)
        else:
            shutil.copyfile(src, dst)
        label_ids[iid] = entries[stem]
        if masks:
            mpath = osp.join(masks, stem + '.png')
            if osp.isfile(mpath):
                m = read_label_png(mpath)
                bad = sorted(int(v) for v in np.unique(m) if v >= len(classes) and v != 255)
                if bad:
                    raise ConversionError(f'{mpath}: values {bad} are not class indices 0..{len(classes) - 1} '
                                          'or 255 (ignore)')
                size = Image.open(src).size
                if (m.shape[1], m.shape[0]) != size:
                    raise ConversionError(f'{mpath}: {m.shape[1]}x{m.shape[0]} but its image is {size[0]}x{size[1]}')
                save_label_png(osp.join(out, 'SegmentationClass', iid + '.png'), m.astype(np.uint8))
                with_mask.append(iid)
    rng = np.random.RandomState(seed)
    n_val = int(round(val_fraction * len(with_mask)))
    val = sorted(rng.permutation(with_mask)[:n_val].tolist()) if n_val else []
    train = sorted(set(label_ids) - set(val))
    lists = dict(train=train, val=val, train_eval=sorted(set(with_mask) - set(val)))
    for split, ids in lists.items():
        atomic_write_text(osp.join(out, 'ImageSets', 'Segmentation', f'{split}.txt'), ''.join(i + '\n' for i in ids))
    write_label_file(osp.join(out, 'cls_labels.json'), classes, label_ids)
    meta = dict(classes=classes, img_suffix=img_suffix, source=dict(images=osp.abspath(images),
                                                                    labels=osp.abspath(labels)),
                splits={k: len(v) for k, v in lists.items()}, reencoded_as_png=reencode)
    atomic_write_text(osp.join(out, 'meta.json'), json.dumps(meta, indent=1))
    return meta


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('images')
    p.add_argument('labels', help='CSV or JSON of image-level labels')
    p.add_argument('--out', required=True)
    p.add_argument('--masks', help='folder of PNG label maps (evaluation only)')
    p.add_argument('--classes', help='comma-separated class names, or a file with one per line (their order)')
    p.add_argument('--val-fraction', type=float, default=0.1, help='of the images with a mask')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--link', action='store_true', help='symlink the images instead of copying them')
    args = p.parse_args(argv)
    try:
        meta = convert(args.images, args.labels, args.out, args.masks, args.classes, args.val_fraction, args.seed,
                       args.link)
    except ConversionError as e:
        raise SystemExit(f'image_folder.py: {e}')
    print(f"classes ({len(meta['classes'])}, background first): {meta['classes']}")
    print(f"images: {meta['splits']} -> {args.out}" + (' (re-encoded as PNG: mixed formats)'
                                                       if meta['reencoded_as_png'] else ''))


if __name__ == '__main__':
    main()
