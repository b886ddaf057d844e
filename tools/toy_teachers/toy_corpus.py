"""The toy image-text corpus: scenes of the toy world (tools/dataset_converters/make_toy_voc.py's generator) with
captions that name the objects and their context, plus context-only scenes (water without a boat, rails without a
train, grass without a cow) that the WSSS toy set never shows alone.

Its random stream is seeded with a pair (seed, CORPUS_STREAM), which no single-integer WSSS seed can reproduce.
"""
import os.path as osp
import sys

import numpy as np

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', 'dataset_converters'))
from make_toy_voc import CLASS_SPECS, make_sample  # noqa: E402

CORPUS_STREAM = 20261124
CONTEXTS = ('water', 'rails', 'grass')
KIND = ('object', 'context_only')


def caption(present, context, classes) -> str:
    """'a photo of a boat and a cow on water.'; 'a photo of water.' for a context-only scene."""
    names = [classes[c] for c in present]
    objs = ' and '.join(f'a {n}' for n in names)
    if not names:
        return f'a photo of {context}.'
    return f'a photo of {objs} on {context}.' if context else f'a photo of {objs}.'


def make_corpus(n: int, size: int, num_classes: int, seed: int, context_only: float = 0.25,
                single_object: float = 0.5):
    """``n`` scenes: ``context_only`` of them a context band and no object; the rest one object (fraction
    ``single_object`` of those) or two or three, with context drawn as in the WSSS set. Returns images (n, size,
    size, 3) uint8, captions, and per scene the class indices present and the context kind."""
    rng = np.random.default_rng([seed, CORPUS_STREAM])
    classes = [s[0] for s in CLASS_SPECS[:num_classes]]
    contexts = [c for c in CONTEXTS if any(s[3] == c for s in CLASS_SPECS[:num_classes])]
    images, captions, meta = np.zeros((n, size, size, 3), np.uint8), [], []
    for i in range(n):
        if rng.random() < context_only:
            present, ctx = [], contexts[rng.integers(len(contexts))]
            img, _, _, kind = make_sample(rng, size, num_classes, 0, present=present, context=ctx)
        else:
            k = 1 if rng.random() < single_object else int(rng.integers(2, min(3, num_classes) + 1))
            present = rng.choice(num_classes, size=k, replace=False).tolist()
            img, _, ids, kind = make_sample(rng, size, num_classes, 0, present=present)
            present = [c - 1 for c in ids]
        images[i] = img
        captions.append(caption(present, kind, classes))
        meta.append(dict(present=present, context=kind))
    return images, captions, meta, classes
