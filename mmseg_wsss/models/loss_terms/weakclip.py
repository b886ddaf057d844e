"""WeakCLIP's loss terms (Zhu et al., IJCV, Sec. 3.3.5): the balanced seed loss and the CRF boundary loss on the
decoder's prediction at 64 x 64, and the official code's auxiliary CE on the co-attention score map."""
from typing import Dict, Optional, Sequence, Tuple

import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from ...utils.labels import resize_labels
from ..losses.weakclip import (CRF_IMAGE_RESIZES, balanced_seed_loss, boundary_loss, crf_image, crf_refine_batch,
                               seed_probabilities)
from ..maps import MapRequest
from ..parts import BaseLossTerm

SCORE_MAP_KINDS = ('cosine_bg', )  # a score over the background and every class, as the CE needs


def loss_probs(seg_logits: Optional[Tensor], size: Tuple[int, int]) -> Tensor:
    """The decoder's probabilities at the loss resolution: the stride-4 logits bilinearly resized to ``size``,
    then softmax + 1e-7 renormalised (official code). Each term computes its own (a 64 x 64 softmax: nothing
    worth sharing through the batch context)."""
    if seg_logits is None:
        raise ValueError('WeakCLIP losses read the decode head\'s logits, but the model has no decode_head')
    return seed_probabilities(F.interpolate(seg_logits, size=size, mode='bilinear', align_corners=False))


@MODELS.register_module()
class SeedLoss(BaseLossTerm):
    """Balanced seed loss (WeakCLIP Eq. 12) of the decoder against a seed source (``labels=``: e.g. ``'seeds'``,
    a :class:`SeedLabels` source reading another method's pseudo-label PNGs), at ``size`` (paper: 64 x 64).
    Seeds are nearest-resized; 255 (and padding) gives no cue. ``bg_log=False`` is the paper's typo literally."""

    def __init__(self, size: Sequence[int] = (64, 64), bg_log: bool = True, ignore_index: int = 255):
        super().__init__()
        self.size = tuple(size)
        self.bg_log = bg_log
        self.ignore_index = ignore_index

    def forward(self, ctx, labels: Optional[Tensor] = None) -> Dict[str, Tensor]:
        if labels is None:
            raise ValueError('SeedLoss needs `labels=<seed source name>` in its term config')
        probs = loss_probs(ctx.seg_logits, self.size)
        seeds = resize_labels(labels, self.size)
        return dict(loss=balanced_seed_loss(probs, seeds, self.ignore_index, self.bg_log))


@MODELS.register_module()
class CRFBoundaryLoss(BaseLossTerm):
    """CRF boundary loss (WeakCLIP Eq. 13, the SEC / DSRG constrain loss) at ``size`` (paper: 64 x 64).

    The images (``ctx.images``, de-normalised with the data preprocessor's own statistics) are resized to
    ``size`` and made uint8 (:func:`crf_image`; ``image_resize='torch'``, the default: bilinear + rounding;
    ``'scipy'``: the official code's ``ndimage.zoom(order=1)`` + truncation); a dense CRF on the CPU refines the
    detached probabilities (``crf`` overrides :func:`crf_refine_batch`'s kernel parameters); the loss is
    KL(CRF || P). ``ratio_clip=(0.05, 20)`` is the official code's clipping of the ratio (off in the paper).
    """

    def __init__(self, size: Sequence[int] = (64, 64), crf: Optional[dict] = None,
                 ratio_clip: Optional[Sequence[float]] = None, image_resize: str = 'torch'):
        super().__init__()
        if image_resize not in CRF_IMAGE_RESIZES:
            raise ValueError(f'CRFBoundaryLoss image_resize={image_resize!r}: expected one of {CRF_IMAGE_RESIZES}')
        self.size = tuple(size)
        self.crf = dict(crf or {})
        self.ratio_clip = tuple(ratio_clip) if ratio_clip is not None else None
        self.image_resize = image_resize

    def forward(self, ctx, labels=None) -> Dict[str, Tensor]:
        probs = loss_probs(ctx.seg_logits, self.size)
        images = crf_image(ctx.images, self.size, self.image_resize)
        q = crf_refine_batch(images, probs, **self.crf)
        return dict(loss=boundary_loss(probs, q, self.ratio_clip))


@MODELS.register_module()
class ScoreMapLoss(BaseLossTerm):
    """The official code's auxiliary loss (not in the paper): cross-entropy of the co-attention score map
    (the declared map ``key``, default ``'score_map'`` of kind ``cosine_bg``: cosine similarities
    (B, 1 + K, h, w), the background first) divided by ``tau`` (0.07) and bilinearly
    upsampled to the label size, against the seeds (``labels=``), ignoring 255. The code weights it 0.4 and
    averages over every pixel, ignored ones included (mmseg's ``avg_non_ignore=False``); ``avg_non_ignore=True``
    averages over the seeded pixels only."""

    def __init__(self, tau: float = 0.07, key: str = 'score_map', ignore_index: int = 255,
                 avg_non_ignore: bool = False):
        super().__init__()
        self.tau = tau
        self.avg_non_ignore = avg_non_ignore
        self.key = key
        self.ignore_index = ignore_index

    def map_requests(self):
        return (MapRequest(self.key, SCORE_MAP_KINDS, 'key'), )

    def forward(self, ctx, labels: Optional[Tensor] = None) -> Dict[str, Tensor]:
        if labels is None:
            raise ValueError('ScoreMapLoss needs `labels=<seed source name>` in its term config')
        logits = F.interpolate(ctx.map(self.key, SCORE_MAP_KINDS) / self.tau, size=labels.shape[-2:], mode='bilinear',
                               align_corners=False)
        per_pixel = F.cross_entropy(logits, labels, ignore_index=self.ignore_index, reduction='none')
        if self.avg_non_ignore:
            return dict(loss=per_pixel.sum() / (labels != self.ignore_index).sum().clamp_min(1))
        return dict(loss=per_pixel.mean())
