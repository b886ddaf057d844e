"""Generate a small VOC-layout WSSS dataset: textured objects on textured backgrounds.

    python tools/dataset_converters/make_toy_voc.py --out data/toy_voc [--num-train 600 --num-val 100
        --size 128 --num-classes 5 --seed 0]

Layout (what VOC12WSSSDataset / ToyWSSSDataset read)::

    OUT/JPEGImages/*.jpg  OUT/SegmentationClass/*.png (palette, 255 = object boundary)
    OUT/ContextMask/*.png (1 = co-occurring context (water, rails, grass) not covered by an object; for analysis)
    OUT/ImageSets/Segmentation/{train,val}.txt  OUT/cls_labels.json  OUT/meta.json

What makes it a WSSS problem rather than a colour threshold:
* every class is a shape with an internal texture; colours come from one shared pool for objects and
  backgrounds alike, so no colour identifies a class or separates objects from background;
* backgrounds are textured (noise, stripes, gradients);
* 1-3 classes and up to 2 instances per class in an image, possibly overlapping;
* class-correlated context (boat on water, train on rails, cow on grass) is drawn as *background* with high
  probability when its class is present and sometimes when it is not: the classic source of CAM false
  positives (CLIMS's co-occurring background).

Deterministic for a given seed and arguments.
"""
import argparse
import json
import os
import os.path as osp
import sys

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from mmseg_wsss.utils.class_names import voc_palette  # noqa: E402
from mmseg_wsss.utils.io import atomic_write_text, save_image, save_label_png  # noqa: E402

# name, shape, texture, context (background drawn under it), vertical placement
CLASS_SPECS = [
    ('boat', 'boat', 'hstripes', 'water', 'on_band'),
    ('train', 'train', 'windows', 'rails', 'on_band'),
    ('cow', 'cow', 'spots', 'grass', 'on_band'),
    ('bird', 'bird', 'solid_noise', None, 'anywhere'),
    ('bottle', 'bottle', 'vstripes', None, 'anywhere'),
    ('ball', 'disc', 'rings', None, 'anywhere'),
    ('sign', 'cross', 'checker', None, 'anywhere'),
    ('kite', 'diamond', 'dstripes', None, 'anywhere'),
]
MAX_CLASSES = len(CLASS_SPECS)

# One colour pool shared by objects and backgrounds.
POOL = np.array([[200, 40, 40], [40, 160, 60], [50, 80, 200], [220, 200, 60], [150, 60, 170], [60, 180, 190],
                 [230, 130, 40], [120, 120, 120], [240, 240, 240], [30, 30, 30], [150, 100, 60],
                 [100, 160, 230]], dtype=np.float32)
CONTEXT_P_WITH, CONTEXT_P_WITHOUT = 0.8, 0.1


def _colours(rng, n):
    idx = rng.choice(len(POOL), size=n, replace=False)
    return POOL[idx] + rng.normal(0, 12, size=(n, 3))


def texture(rng, kind: str, h: int, w: int) -> np.ndarray:
    """An (h, w, 3) float texture mixing two pool colours in a pattern."""
    c0, c1 = _colours(rng, 2)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    period = rng.uniform(5, 9)
    phase = rng.uniform(0, 2 * np.pi)
    if kind == 'hstripes':
        t = np.sin(yy / period * 2 * np.pi + phase) > 0
    elif kind == 'vstripes':
        t = np.sin(xx / period * 2 * np.pi + phase) > 0
    elif kind == 'dstripes':
        t = np.sin((xx + yy) / period * np.pi + phase) > 0
    elif kind == 'checker':
        t = ((xx // period).astype(int) + (yy // period).astype(int)) % 2 == 0
    elif kind == 'rings':
        cy, cx = h / 2, w / 2
        t = np.sin(np.hypot(yy - cy, xx - cx) / period * 2 * np.pi + phase) > 0
    elif kind == 'spots':
        t = np.zeros((h, w), bool)
        for _ in range(max(3, h * w // 120)):
            cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(2, 4)
            t |= (yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2
    elif kind == 'windows':
        t = ((yy % 10) > 3) & ((yy % 10) < 8) & ((xx % 9) > 2) & ((xx % 9) < 7)
    elif kind == 'solid_noise':
        t = rng.random((h, w)) < 0.15
    elif kind == 'noise':
        t = rng.random((h, w)) < 0.5
    else:
        raise ValueError(kind)
    out = np.where(t[..., None], c1, c0)
    return out + rng.normal(0, 8, size=(h, w, 3))


def background(rng, h, w) -> np.ndarray:
    """Textured backgrounds from other texture families than the objects' (noise, gradients, blotches)."""
    kind = rng.choice(['noise', 'gradient', 'blotches'])
    if kind == 'blotches':
        c0, c1 = _colours(rng, 2)
        coarse = rng.random((h // 16 + 2, w // 16 + 2))
        a = np.asarray(Image.fromarray((coarse * 255).astype(np.uint8)).resize((w, h), Image.BILINEAR)) / 255.0
        return c0 * (1 - a[..., None]) + c1 * a[..., None] + rng.normal(0, 10, size=(h, w, 3))
    if kind == 'gradient':
        c0, c1 = _colours(rng, 2)
        a = np.linspace(0, 1, h if rng.random() < 0.5 else w)
        a = a[:, None] if len(a) == h else a[None, :]
        a = np.broadcast_to(a, (h, w))[..., None]
        return c0 * (1 - a) + c1 * a + rng.normal(0, 10, size=(h, w, 3))
    img = texture(rng, kind, h, w)
    return 0.6 * img + 0.4 * img.mean(axis=(0, 1))  # lower contrast than objects' textures


def context_band(rng, kind: str, h: int, w: int):
    """A bottom band of context texture; returns (image patch, top row)."""
    top = int(h * rng.uniform(0.7, 0.8))
    bh = h - top
    yy, xx = np.mgrid[0:bh, 0:w].astype(np.float32)
    c0, c1 = _colours(rng, 2)
    if kind == 'water':
        t = np.sin(xx / 6 + 2.5 * np.sin(yy / 3)) > 0.3
    elif kind == 'rails':
        t = (np.abs(yy - bh * 0.35) < 1.5) | (np.abs(yy - bh * 0.65) < 1.5) | ((xx % 8) < 2) & (yy > bh * 0.25) \
            & (yy < bh * 0.75)
    elif kind == 'grass':
        t = (np.sin(xx * 1.7) + rng.normal(0, 0.6, size=(bh, w))) > 0.4
    else:
        raise ValueError(kind)
    return np.where(t[..., None], c1, c0) + rng.normal(0, 6, size=(bh, w, 3)), top


def shape_mask(shape: str, h: int, w: int, box) -> np.ndarray:
    """Boolean mask of a class shape inside ``box`` = (x0, y0, x1, y1)."""
    m = Image.new('L', (w, h), 0)
    d = ImageDraw.Draw(m)
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    if shape == 'boat':  # hull + mast + sail
        d.polygon([(x0, y0 + 0.6 * bh), (x1, y0 + 0.6 * bh), (x1 - 0.2 * bw, y1), (x0 + 0.2 * bw, y1)], fill=1)
        d.polygon([(x0 + 0.45 * bw, y0), (x0 + 0.45 * bw, y0 + 0.58 * bh), (x0 + 0.9 * bw, y0 + 0.58 * bh)], fill=1)
    elif shape == 'train':  # long body + cab + wheels
        d.rectangle([x0, y0 + 0.25 * bh, x1, y0 + 0.85 * bh], fill=1)
        d.rectangle([x0, y0, x0 + 0.3 * bw, y0 + 0.3 * bh], fill=1)
        for fx in (0.15, 0.45, 0.75):
            r = 0.12 * bh
            d.ellipse([x0 + fx * bw - r, y1 - 2 * r, x0 + fx * bw + r, y1], fill=1)
    elif shape == 'cow':  # body, head, legs
        d.ellipse([x0, y0 + 0.1 * bh, x0 + 0.8 * bw, y0 + 0.7 * bh], fill=1)
        d.ellipse([x0 + 0.7 * bw, y0, x1, y0 + 0.35 * bh], fill=1)
        for fx in (0.12, 0.3, 0.5, 0.65):
            d.rectangle([x0 + fx * bw, y0 + 0.55 * bh, x0 + (fx + 0.08) * bw, y1], fill=1)
    elif shape == 'bird':  # chevron wings + body
        d.polygon([(x0, y0), (x0 + 0.5 * bw, y0 + 0.6 * bh), (x1, y0), (x0 + 0.5 * bw, y1)], fill=1)
    elif shape == 'bottle':
        d.rectangle([x0 + 0.25 * bw, y0 + 0.35 * bh, x1 - 0.25 * bw, y1], fill=1)
        d.rectangle([x0 + 0.4 * bw, y0, x1 - 0.4 * bw, y0 + 0.4 * bh], fill=1)
    elif shape == 'disc':
        d.ellipse([x0, y0, x1, y1], fill=1)
    elif shape == 'cross':
        d.rectangle([x0 + 0.33 * bw, y0, x1 - 0.33 * bw, y1], fill=1)
        d.rectangle([x0, y0 + 0.33 * bh, x1, y1 - 0.33 * bh], fill=1)
    elif shape == 'diamond':
        d.polygon([(x0 + 0.5 * bw, y0), (x1, y0 + 0.5 * bh), (x0 + 0.5 * bw, y1), (x0, y0 + 0.5 * bh)], fill=1)
    else:
        raise ValueError(shape)
    return np.asarray(m, dtype=bool)


def boundary(mask: np.ndarray, width: int) -> np.ndarray:
    """Pixels within ``width`` of a label change (VOC's ignore ring)."""
    edge = np.zeros_like(mask, dtype=bool)
    edge[:-1] |= mask[:-1] != mask[1:]
    edge[1:] |= mask[:-1] != mask[1:]
    edge[:, :-1] |= mask[:, :-1] != mask[:, 1:]
    edge[:, 1:] |= mask[:, :-1] != mask[:, 1:]
    for _ in range(width - 1):
        grown = edge.copy()
        grown[:-1] |= edge[1:]
        grown[1:] |= edge[:-1]
        grown[:, :-1] |= edge[:, 1:]
        grown[:, 1:] |= edge[:, :-1]
        edge = grown
    return edge


def make_sample(rng, size: int, num_classes: int, ignore_border: int, present=None, context='sample',
                context_mask=None):
    """One image, its label map, the segmentation ids present and the context band drawn (or None); with
    ``context_mask`` (an (size, size) bool array), the band's pixels that no object covers are set in it.

    ``present`` (class indices) and ``context`` (a context kind or None) force the composition, for the image-text
    corpus (tools/toy_teachers/); by default both are drawn as for the WSSS set.
    """
    h = w = size
    if present is None:
        n_cls = min(num_classes, rng.choice([1, 2, 3], p=[0.5, 0.4, 0.1]))
        present = rng.choice(num_classes, size=n_cls, replace=False).tolist()
    present = sorted(present)
    img = background(rng, h, w)
    label = np.zeros((h, w), np.uint8)

    # context: at most one band per image
    band_top = None
    ctx_of_present = [CLASS_SPECS[c][3] for c in present if CLASS_SPECS[c][3]]
    ctx_pool = [CLASS_SPECS[c][3] for c in range(num_classes) if CLASS_SPECS[c][3]]
    if context != 'sample':
        kind = context
    elif ctx_of_present and rng.random() < CONTEXT_P_WITH:
        kind = ctx_of_present[rng.integers(len(ctx_of_present))]
    elif ctx_pool and rng.random() < CONTEXT_P_WITHOUT:
        kind = ctx_pool[rng.integers(len(ctx_pool))]
    else:
        kind = None
    if kind:
        band, band_top = context_band(rng, kind, h, w)
        img[band_top:] = band

    for c in present:
        _, shape, tex, ctx, place = CLASS_SPECS[c]
        for _ in range(rng.choice([1, 2], p=[0.7, 0.3])):
            bw = int(size * rng.uniform(0.3, 0.5) * (1.4 if shape == 'train' else 1.0))
            bh = int(size * rng.uniform(0.3, 0.5) * (0.6 if shape == 'train' else 1.0))
            bw, bh = min(bw, w - 2), min(bh, h - 2)
            x0 = int(rng.integers(0, w - bw))
            if place == 'on_band' and band_top is not None and ctx == kind:
                y0 = int(np.clip(band_top - 0.7 * bh + rng.normal(0, 3), 0, h - bh))
            else:
                y0 = int(rng.integers(0, h - bh))
            m = shape_mask(shape, h, w, (x0, y0, x0 + bw, y0 + bh))
            img[m] = texture(rng, tex, h, w)[m]
            label[m] = c + 1
    if context_mask is not None and band_top is not None:
        context_mask[band_top:] = label[band_top:] == 0
    if ignore_border > 0:
        label[boundary(label, ignore_border)] = 255
    img = np.clip(img, 0, 255).astype(np.uint8)
    return img, label, [c + 1 for c in present], kind


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', default='data/toy_voc')
    p.add_argument('--num-train', type=int, default=600)
    p.add_argument('--num-val', type=int, default=100)
    p.add_argument('--size', type=int, default=128)
    p.add_argument('--num-classes', type=int, default=5, help=f'foreground classes, 1..{MAX_CLASSES}')
    p.add_argument('--ignore-border', type=int, default=1, help='width of the 255 ring at object boundaries')
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args(argv)
    if not 1 <= args.num_classes <= MAX_CLASSES:
        p.error(f'--num-classes must be in 1..{MAX_CLASSES}')
    if args.size < 32:
        p.error('--size must be at least 32')

    classes = ['background'] + [s[0] for s in CLASS_SPECS[:args.num_classes]]
    palette = voc_palette(len(classes))
    rng = np.random.default_rng(args.seed)
    splits = {'train': args.num_train, 'val': args.num_val}
    labels = {}
    for split, n in splits.items():
        ids = []
        for i in range(n):
            img_id = f'{split}_{i:05d}'
            ctx_mask = np.zeros((args.size, args.size), bool)
            img, label, present, _ = make_sample(rng, args.size, args.num_classes, args.ignore_border,
                                                 context_mask=ctx_mask)
            save_label_png(osp.join(args.out, 'ContextMask', img_id + '.png'), ctx_mask.astype(np.uint8))
            save_image(osp.join(args.out, 'JPEGImages', img_id + '.jpg'), img, quality=92)
            save_label_png(osp.join(args.out, 'SegmentationClass', img_id + '.png'), label, palette)
            labels[img_id] = present
            ids.append(img_id)
        atomic_write_text(osp.join(args.out, 'ImageSets', 'Segmentation', f'{split}.txt'), '\n'.join(ids) + '\n')
    from mmseg_wsss.datasets.wsss_base import write_label_file
    write_label_file(osp.join(args.out, 'cls_labels.json'), classes, labels)
    # meta.json last: its presence marks a complete dataset
    atomic_write_text(osp.join(args.out, 'meta.json'),
                      json.dumps(dict(classes=classes, seed=args.seed, size=args.size, splits=splits), indent=1))
    print(f'toy dataset: {sum(splits.values())} images, {len(classes)} classes -> {os.path.abspath(args.out)}')


if __name__ == '__main__':
    main()
