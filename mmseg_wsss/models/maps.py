"""Dense class maps that parts exchange, with their kind stated, and the one place where kinds are converted.

Every map a part can read by name has a *kind*: what its values mean and which range they lie in. Producers
state the kind of what they make; consumers state the kind they need; the segmentor checks every join when the
model is built (:func:`check_join`) and converts at run time with :func:`convert_map`, the only conversion code.
A join without a conversion fails at build time with one line naming both parts and the fix.

Maps the segmentor knows, by name:

* ``'cams'``: the CAM head's CAMs, of the head's ``cam_kind`` (``CAMHead``: relu, ``SigmoidCAMHead``: sigmoid);
* ``'cam_logits'``: the CAM head's raw ``W^T Z`` (logits);
* every key a backbone or neck declares in its class attribute ``map_outputs = {key: kind}`` (WeakCLIP's
  ``score_map``: cosine_bg), read from ``ctx.extras``;
* every key a named head (``heads=dict(name=...)``) declares in ``map_outputs``, as ``<name>.<key>``, read from
  ``ctx.head_outputs[name]`` (``AuxCAMHead``: ``aux.cams``, relu);
* every pseudo-label source, by its name: its hard labels (kind ``labels``), or, for a source whose class
  declares ``map_kind`` and has ``maps(ctx)``, that map (``CAMPseudoLabel``: its normalised multi-scale CAMs;
  ``CARMPseudoLabel``: its calibrated CARMs with the background channel).

Foreground maps are (B, K, h, w), class k being segmentation id k + 1; ``*_bg`` kinds and ``labels`` include
the background (channel 0, id 0).
"""
from typing import Callable, Dict, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..utils.cam_ops import max_normalize

MAP_KINDS: Dict[str, str] = {
    'logits': 'raw class scores W^T Z, any real value, (B, K, h, w)',
    'relu': 'ReLU(logits): >= 0, unbounded (CAMHead CAMs, AFA / IRNet), (B, K, h, w)',
    'sigmoid': 'sigmoid(logits): a soft mask in (0, 1) (SigmoidCAMHead, CLIMS Eq. 3), (B, K, h, w)',
    'cosine': 'cosine similarities in [-1, 1] (patch-text maps), (B, K, h, w)',
    'cosine_bg': 'cosine similarities in [-1, 1] with the background first (WeakCLIP score map), (B, 1 + K, h, w)',
    'normalized': 'ReLU then normalised per image and class to [0, 1], peak 1 (max or min-max; what thresholds '
                  'read), (B, K, h, w)',
    'normalized_bg': 'scores in [0, 1] with the background first (CARM), (B, 1 + K, h, w)',
    'labels': 'hard labels, 0 = background, class k + 1, 255 = ignore, (B, H, W) long',
}

# (from, to) -> conversion; identity is implicit. Nothing else converts kinds.
_CONVERSIONS: Dict[Tuple[str, str], Tuple[Callable[[Tensor], Tensor], str]] = {
    ('logits', 'relu'): (F.relu, 'ReLU'),
    ('logits', 'sigmoid'): (torch.sigmoid, 'sigmoid'),
    ('logits', 'normalized'): (max_normalize, 'ReLU + max-normalisation'),
    ('relu', 'normalized'): (max_normalize, 'max-normalisation'),
    ('cosine', 'relu'): (F.relu, 'ReLU'),
    ('cosine', 'normalized'): (max_normalize, 'ReLU + max-normalisation'),
    ('cosine_bg', 'cosine'): (lambda x: x[:, 1:], 'the foreground channels'),
    ('cosine_bg', 'relu'): (lambda x: F.relu(x[:, 1:]), 'the foreground channels, ReLU'),
    ('cosine_bg', 'normalized'): (lambda x: max_normalize(x[:, 1:]), 'the foreground channels, ReLU + '
                                                                      'max-normalisation'),
    ('normalized_bg', 'normalized'): (lambda x: x[:, 1:], 'the foreground channels'),
}
# Why the missing ones are missing (shown in the build error).
_NO_CONVERSION = {
    ('relu', 'sigmoid'): 'ReLU maps lost the negative logits a sigmoid needs',
    ('sigmoid', 'normalized'): 'max-normalising sigmoid maps saturates them over plain background (the official '
                               'CLIMS code reads ReLU(logits) instead)',
    ('labels', 'normalized'): 'hard labels carry no scores',
}


class MapRequest(NamedTuple):
    """What a consumer reads: the map ``name`` as one of ``kinds`` (first convertible one wins)."""
    name: str
    kinds: Tuple[str, ...]
    arg: str = 'map'  # the consumer's config key that names the map, for the error message


def conversion(src: str, dst: str) -> Optional[str]:
    """How ``src`` becomes ``dst`` ('identity', a description), or None when it cannot."""
    if src == dst:
        return 'identity'
    conv = _CONVERSIONS.get((src, dst))
    return None if conv is None else conv[1]


def convert_map(x: Tensor, src: str, dst: str) -> Tensor:
    """Convert a map of kind ``src`` to kind ``dst`` (the conversions of this module's table only)."""
    if src == dst:
        return x
    if (src, dst) not in _CONVERSIONS:
        raise ValueError(f'no conversion from {src} maps to {dst} maps: {_NO_CONVERSION.get((src, dst), "")}')
    return _CONVERSIONS[(src, dst)][0](x)


def resolve(src: str, kinds: Sequence[str]) -> Optional[str]:
    """The first of ``kinds`` that ``src`` converts to, or None."""
    return next((k for k in kinds if conversion(src, k) is not None), None)


def check_join(consumer: str, request: MapRequest, producers: Dict[str, Tuple[str, str]]) -> str:
    """The kind ``consumer`` will receive for ``request``; raises one line naming both parts and the fix.

    ``producers``: map name -> (kind, what makes it, e.g. 'cam_head (CAMHead)')."""
    for k in request.kinds:
        if k not in MAP_KINDS:
            raise ValueError(f'{consumer} asks for map kind {k!r}; kinds are {sorted(MAP_KINDS)}')
    if request.name not in producers:
        raise KeyError(f'{consumer} reads map {request.name!r} ({request.arg}=), which no part of the model makes; '
                       f'maps: {sorted(producers)}')
    kind, producer = producers[request.name]
    got = resolve(kind, request.kinds)
    if got is not None:
        return got
    why = '; '.join(filter(None, (_NO_CONVERSION.get((kind, k)) for k in request.kinds)))
    fixes = [n for n, (kk, _) in producers.items() if n != request.name and resolve(kk, request.kinds)]
    fix = f'set {request.arg}= to one of {sorted(fixes)}' if fixes else 'use a producer of that kind'
    raise ValueError(f'{consumer} needs map {request.name!r} as {"/".join(request.kinds)}, but {producer} makes '
                     f'{kind} maps, which cannot be converted ({why or "no conversion"}): {fix}')
