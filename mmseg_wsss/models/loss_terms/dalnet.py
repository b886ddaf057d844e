"""DALNet's alignment terms (papers/facts/dalnet.md): GIA (E2), LEA (E4) and the cross-contrastive loss (Eq. 6),
on the projected tokens of a CLIP image tower (``OpenCLIPImageEncoder`` extras) and a text encoder's class and
background embeddings. LEA and Eq. 6 read the object-aware mask as their ``labels`` (``PatchTextLabels``, or any
source), taken to the patch grid by nearest sampling."""
from typing import Dict, Optional

import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from ...utils.labels import resize_labels
from ..losses.dalnet import SIMILARITIES, cross_contrastive_loss, gia_loss, lea_loss, region_means
from ..maps import MapRequest
from ..parts import BaseLossTerm
from ..tokens import read_texts, read_tokens, token_request


def _check_similarity(form: str) -> None:
    if form not in SIMILARITIES:
        raise ValueError(f'similarity must be one of {SIMILARITIES}, got {form!r}')


def _patch_mask(ctx, labels: Optional[Tensor], who: str) -> Tensor:
    """The (B, H, W) mask labels at the patch grid -> (B, N)."""
    if labels is None:
        raise ValueError(f'{who} reads the object-aware mask as its labels: set labels=\'object_mask\' '
                         '(a PatchTextLabels source) or another source')
    h, w = ctx.extras['grid']
    return resize_labels(labels, (h, w)).flatten(1)


@MODELS.register_module()
class GIALoss(BaseLossTerm):
    """E2, global implicit alignment: the final class token pulled to its image's class texts, pushed from the
    background text (:func:`~mmseg_wsss.models.losses.dalnet.gia_loss`). Weight: lambda_i = 1.0 (Eq. 7)."""

    def __init__(self, text: str = 'clip_text', tokens='final', similarity: str = 'clamp', eps: float = 1e-4,
                 temperature: float = 0.07, classes: str = 'sum', absent_push: bool = False):
        super().__init__()
        _check_similarity(similarity)
        token_request(tokens, 'cls')
        self.text, self.tokens = text, tokens
        self.similarity, self.eps, self.temperature = similarity, eps, temperature
        self.classes, self.absent_push = classes, absent_push

    def extra_requests(self):
        return (token_request(self.tokens, 'cls'), )

    def forward(self, ctx, labels=None) -> Dict[str, Tensor]:
        text, bg = read_texts(ctx, self.text, type(self).__name__)
        return dict(loss=gia_loss(read_tokens(ctx, self.tokens, 'cls'), text, bg, ctx.img_labels, self.similarity,
                                  self.eps, self.temperature, self.classes, self.absent_push))


@MODELS.register_module()
class LEALoss(BaseLossTerm):
    """E4, local explicit alignment: each final patch token aligned with its mask region's text and pushed from
    the others (:func:`~mmseg_wsss.models.losses.dalnet.lea_loss`). Weight: lambda_e = 1.0 (Eq. 7)."""

    def __init__(self, text: str = 'clip_text', tokens='final', similarity: str = 'clamp', eps: float = 1e-4,
                 temperature: float = 0.07, bg_push: str = 'sum', loss_form: str = 'log',
                 softmax_temperature: float = 0.07, ignore_index: int = 255):
        super().__init__()
        _check_similarity(similarity)
        token_request(tokens)
        self.text, self.tokens = text, tokens
        self.similarity, self.eps, self.temperature = similarity, eps, temperature
        self.bg_push, self.loss_form, self.softmax_temperature = bg_push, loss_form, softmax_temperature
        self.ignore_index = ignore_index

    def extra_requests(self):
        return (token_request(self.tokens), 'grid')

    def forward(self, ctx, labels=None) -> Dict[str, Tensor]:
        text, bg = read_texts(ctx, self.text, type(self).__name__)
        mask = _patch_mask(ctx, labels, type(self).__name__)
        return dict(loss=lea_loss(read_tokens(ctx, self.tokens), mask, text, bg, ctx.img_labels, self.similarity,
                                  self.eps, self.temperature, self.bg_push, self.loss_form,
                                  self.softmax_temperature, self.ignore_index))


@MODELS.register_module()
class CrossContrastiveLoss(BaseLossTerm):
    """Eq. 6, cross-contrastive alignment of mask-region features and texts in both directions, with a
    background term weighted by lambda (:func:`~mmseg_wsss.models.losses.dalnet.cross_contrastive_loss`;
    regions: :func:`~mmseg_wsss.models.losses.dalnet.region_means`). Defaults: tau 1.0, lambda 0.001
    (supplementary). ``soft_map``: a normalised map (e.g. the mask source's own, ``'object_mask'``) whose values
    weight the region means instead of the hard mask (option 8)."""

    def __init__(self, text: str = 'clip_text', tokens='final', tau: float = 1.0, bg_weight: float = 0.001,
                 directions: str = 'both', negatives: str = 'background', soft_map: Optional[str] = None,
                 ignore_index: int = 255):
        super().__init__()
        token_request(tokens)
        self.text, self.tokens, self.tau, self.bg_weight = text, tokens, tau, bg_weight
        self.directions, self.negatives, self.soft_map = directions, negatives, soft_map
        self.ignore_index = ignore_index
        if directions not in ('both', 'i2t', 't2i') or negatives not in ('background', 'classes'):
            raise ValueError(f"directions must be 'both', 'i2t' or 't2i' and negatives 'background' or 'classes', "
                             f'got {directions!r}, {negatives!r}')

    def extra_requests(self):
        return (token_request(self.tokens), 'grid')

    def map_requests(self):
        return () if self.soft_map is None else (MapRequest(self.soft_map, ('normalized', ), 'soft_map'), )

    def forward(self, ctx, labels=None) -> Dict[str, Tensor]:
        text, bg = read_texts(ctx, self.text, type(self).__name__)
        mask = _patch_mask(ctx, labels, type(self).__name__)
        patches = read_tokens(ctx, self.tokens)
        weights = None
        if self.soft_map is not None:
            weights = F.interpolate(ctx.map(self.soft_map, 'normalized').detach(), size=tuple(ctx.extras['grid']),
                                    mode='bilinear', align_corners=False).flatten(2) * ctx.img_labels[..., None]
        f, has_f, f_bg, has_bg = region_means(patches, mask, text.shape[0], weights, self.ignore_index)
        return dict(loss=cross_contrastive_loss(f, has_f, f_bg, has_bg, text, bg, ctx.img_labels, self.tau,
                                                self.bg_weight, self.directions, self.negatives))
