"""The toy image-text corpus: scenes of the toy world (tools/dataset_converters/make_toy_voc.py's generator) with
captions that name the objects and their context, plus context-only scenes (water without a boat, rails without a
train, grass without a cow) that the WSSS toy set never shows alone, plus masked scenes: part of a scene painted
over with CLIP's mean grey (soft-edged, as a CAM mask is) and captioned by what is still visible.

Why masked scenes: CLIMS, WeakCLIP and DALNet show the CLIP image tower images masked by CAMs (masked pixels take
the mean colour). Real CLIP has seen enough images with plain regions to score "a boat" low on a grey image and
high on a boat surrounded by grey. A toy CLIP that never saw a grey region scores a fully grey image as the most
boat-like image there is (measured before these scenes were added: cosine 0.527 for nothing shown vs 0.440 for
exactly the boat), so CLIMS's object term rewards showing less.

Its random stream is seeded with a pair (seed, CORPUS_STREAM), which no single-integer WSSS seed can reproduce.
"""
import os.path as osp
import sys

import numpy as np
from open_clip.constants import OPENAI_DATASET_MEAN

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', 'dataset_converters'))
from make_toy_voc import CLASS_SPECS, make_sample  # noqa: E402

CORPUS_STREAM = 20261124
CONTEXT_OF = {spec[3]: spec[0] for spec in CLASS_SPECS if spec[3]}  # context -> the class it co-occurs with
CONTEXTS = tuple(CONTEXT_OF)  # water, rails, grass
GREY = np.array(OPENAI_DATASET_MEAN) * 255  # CLIP's mean colour (ImageNet's is within 2 levels)
EMPTY_CAPTION = 'a photo of nothing.'
VISIBLE_OBJECT = 0.5  # an object is named when at least this fraction of it stays visible
VISIBLE_CONTEXT = 0.3  # a context band is named when at least this fraction of its free pixels stays visible
MASK_MODES = ('keep_objects', 'hide_objects', 'blobs')


def caption(present, context, classes) -> str:
    """'a photo of a boat and a cow on water.'; 'a photo of water.' for a context-only scene."""
    names = [classes[c] for c in present]
    objs = ' and '.join(f'a {n}' for n in names)
    if not names:
        return f'a photo of {context}.' if context else EMPTY_CAPTION
    return f'a photo of {objs} on {context}.' if context else f'a photo of {objs}.'


def soft_mask(mask: np.ndarray, rng, grow: int) -> np.ndarray:
    """A CAM-like soft version of a boolean mask: dilated by ``grow`` pixels (eroded if negative), then blurred
    with a random sigma of 0.5-3 px. Returns float alpha in [0, 1]."""
    from scipy import ndimage
    m = mask
    if grow > 0:
        m = ndimage.binary_dilation(m, iterations=grow)
    elif grow < 0:
        m = ndimage.binary_erosion(m, iterations=-grow)
    return np.clip(ndimage.gaussian_filter(m.astype(np.float32), rng.uniform(0.5, 3.0)), 0, 1)


def random_blobs(rng, size: int) -> np.ndarray:
    """1-4 random soft ellipses (the region to hide)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    m = np.zeros((size, size), bool)
    for _ in range(int(rng.integers(1, 5))):
        cy, cx = rng.uniform(0, size, 2)
        ry, rx = rng.uniform(0.1, 0.4, 2) * size
        m |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
    return m


def mask_scene(rng, img: np.ndarray, label: np.ndarray, present):
    """Paint part of a scene with the mean grey (soft edges); returns (image, keep) with ``keep`` the (H, W)
    float visibility map.

    Modes: keep a random subset of the objects and hide everything else (what CLIMS's object term shows CLIP);
    hide a random subset of the objects (its background term); hide random blobs. ``present`` are class indices,
    ``label`` holds index + 1."""
    mode = MASK_MODES[rng.choice(3, p=[0.4, 0.4, 0.2])]
    chosen = rng.choice(present, size=int(rng.integers(1, len(present) + 1)), replace=False).tolist() \
        if present else []
    union = np.isin(label, [c + 1 for c in chosen])
    if mode == 'keep_objects' and chosen:
        keep = soft_mask(union, rng, int(rng.integers(-1, 4)))
    elif mode == 'hide_objects' and chosen:
        keep = 1 - soft_mask(union, rng, int(rng.integers(0, 4)))
    else:
        keep = 1 - soft_mask(random_blobs(rng, img.shape[0]), rng, 0)
    grey = GREY + rng.normal(0, 2, 3)
    out = img * keep[..., None] + grey * (1 - keep[..., None])
    return np.clip(out, 0, 255).astype(np.uint8), keep


def crop_box(rng, h: int, min_crop: float = 0.7):
    """A random square crop (side ``min_crop``-1 of the image, as the toy set's RandomResize + RandomCrop give):
    (y, x, side)."""
    c = int(round(h * rng.uniform(min_crop, 1.0)))
    y, x = rng.integers(0, h - c + 1, 2)
    return int(y), int(x), c


def resize(img: np.ndarray, size: int, mode: str = 'bilinear') -> np.ndarray:
    """The evaluator's own resize (bilinear, no antialiasing; CLIMSLoss and OpenCLIPImageEncoder.encode)."""
    import torch
    import torch.nn.functional as F
    x = torch.from_numpy(np.ascontiguousarray(img)).float()
    x = x.permute(2, 0, 1)[None] if x.ndim == 3 else x[None, None]
    kw = dict(align_corners=False) if mode == 'bilinear' else {}
    x = F.interpolate(x, size=(size, size), mode=mode, **kw)[0]
    x = x.permute(1, 2, 0) if img.ndim == 3 else x[0]
    return x.round().clamp(0, 255).byte().numpy()


def visible(keep: np.ndarray, box, label: np.ndarray, present, band: np.ndarray, kind):
    """The classes (at least VISIBLE_OBJECT of their pixels unmasked and inside the crop) and the context (at
    least VISIBLE_CONTEXT of its free pixels) that a caption may name."""
    y, x, c = box
    inside = np.zeros_like(keep)
    inside[y:y + c, x:x + c] = keep[y:y + c, x:x + c]
    names = [k for k in present if inside[label == k + 1].mean() >= VISIBLE_OBJECT]
    ctx = kind if kind and band.any() and inside[band].mean() >= VISIBLE_CONTEXT else None
    return names, ctx


def make_corpus(n: int, size: int, num_classes: int, seed: int, context_only: float = 0.25,
                single_object: float = 0.5, masked: float = 0.0, keep_labels: bool = False,
                render_size: int = 128):
    """``n`` scenes: ``context_only`` of them a context band and no object; the rest one object (fraction
    ``single_object`` of those) or two or three, with context drawn as in the WSSS set. A fraction ``masked`` of
    all scenes is then partly painted grey (``mask_scene``) and captioned by what stays visible. Returns images
    (n, size, size, 3) uint8, captions, and per scene the class indices named, the context named and whether it
    was masked (and with ``keep_labels`` the label map, class index + 1 per pixel).

    Scenes are drawn at ``render_size`` (the toy WSSS set's image size), masked there, and then cropped and
    resized to ``size`` (:func:`crop_box`, :func:`resize`): the teacher learns the toy world at the scale at which CLIMS's evaluator
    will see it (textures drawn at 64 px directly are twice as coarse as a 128 px training image shrunk to 64).
    What a caption names is judged after masking and cropping (:func:`visible`)."""
    rng = np.random.default_rng([seed, CORPUS_STREAM])
    classes = [s[0] for s in CLASS_SPECS[:num_classes]]
    contexts = [c for c in CONTEXTS if any(s[3] == c for s in CLASS_SPECS[:num_classes])]
    images, captions, meta = np.zeros((n, size, size, 3), np.uint8), [], []
    rs = render_size
    for i in range(n):
        band = np.zeros((rs, rs), bool)
        if rng.random() < context_only:
            present, ctx = [], contexts[rng.integers(len(contexts))]
            img, label, _, kind = make_sample(rng, rs, num_classes, 0, present=present, context=ctx,
                                              context_mask=band)
        else:
            k = 1 if rng.random() < single_object else int(rng.integers(2, min(3, num_classes) + 1))
            present = rng.choice(num_classes, size=k, replace=False).tolist()
            img, label, ids, kind = make_sample(rng, rs, num_classes, 0, present=present, context_mask=band)
            present = [c - 1 for c in ids]
        is_masked = bool(masked) and rng.random() < masked
        keep = np.ones((rs, rs), np.float32)
        if is_masked:
            img, keep = mask_scene(rng, img, label, present)
        box = crop_box(rng, rs)
        present, kind = visible(keep, box, label, present, band, kind)
        y, x, c = box
        images[i] = resize(img[y:y + c, x:x + c], size)
        label = resize(label[y:y + c, x:x + c], size, 'nearest')
        captions.append(caption(present, kind, classes))
        meta.append(dict(present=present, context=kind, masked=is_masked))
        if keep_labels:
            meta[-1]['label'] = label
    return images, captions, meta, classes
