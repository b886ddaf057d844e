from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from ...utils.cam_ops import add_background, cams_to_pseudo_labels, multi_scale_flip_cams, normalize_cams
from ...utils.labels import with_background
from ..losses.affinity import radius_mask
from .propagation import propagate_with_affinity
from ..maps import MapRequest
from ..parts import BasePseudoLabelSource


def background_softmax(scores: Tensor, img_labels: Tensor) -> Tensor:
    """Softmax over [background, labelled classes] of (B, 1 + K, h, w) scores; classes outside the image's labels
    get probability 0 (AFA's ``valid_key`` selection, vectorised over the batch)."""
    keep = with_background(img_labels)
    return scores.masked_fill(~keep[..., None, None], float('-inf')).softmax(dim=1)


def refine_and_argmax(refine: nn.Module, images: Tensor, scores: Tensor, scale: float) -> Tensor:
    """PAR-refine per-class scores (B, C, h, w) along the images shrunk by ``scale``, back to the images' size,
    argmax -> (B, H, W) ids."""
    H, W = images.shape[-2:]
    size = (max(1, int(H * scale)), max(1, int(W * scale)))
    small = F.interpolate(images, size=size, mode='bilinear', align_corners=False)
    scores = F.interpolate(scores, size=size, mode='bilinear', align_corners=False)
    refined = refine(small, scores)
    return F.interpolate(refined, size=(H, W), mode='bilinear', align_corners=False).argmax(dim=1)


def band_labels(label_high: Tensor, label_low: Tensor, ignore_index: int = 255) -> Tensor:
    """AFA's uncertain band from two labellings with background scores ``high`` and ``low``: the high labelling,
    ``ignore_index`` where it says background but the low one does not."""
    out = label_high.clone()
    out[(label_high == 0) & (label_low != 0)] = ignore_index
    return out


@MODELS.register_module()
class CAMPseudoLabel(BasePseudoLabelSource):
    """Online pseudo labels from the current CAMs for training a decoder (single-stage methods: AFA, ECA).

    CAMs of the batch (optionally re-computed at extra ``scales`` / flips without gradient, as AFA does with
    (1.0, 0.5, 1.5) and flips) at the input size, normalised (``norm``), restricted to the image's labels and cut
    with an uncertain band: foreground above ``high_thr``, background below ``low_thr``, ``ignore_index`` between
    (AFA: 0.55 / 0.35).

    With ``refine`` (e.g. ``dict(type='PAR')``) the band is AFA's: a constant background score ``high_thr`` (and
    separately ``low_thr``) is prepended, softmax over background + labelled classes, PAR at ``refine_scale`` of
    the crop, upsample, argmax; the high labelling, ``ignore_index`` where it alone says background.

    With ``affinity`` (the name of the model's ``AttentionAffinityHead``), from ``affinity_start_iter`` on the
    CAMs are first propagated along that head's predicted affinity (AFA Eq. 8: the CAMs at the attention grid,
    softmax with the background score, random walk within ``affinity_radius``) and then refined and banded the
    same way (AFA switches at 6k iterations).

    Maps (:mod:`mmseg_wsss.models.maps`): reads ``cams`` (default ``'cams'``, the CAM head's) as a ReLU map
    (``'cam_logits'`` of a ``SigmoidCAMHead``; any cosine map such as WeakCLIP's ``score_map`` at one scale);
    makes, under its own name, its normalised multi-scale CAMs (kind ``normalized``, at the input size), which
    ECA's ``CARMPseudoLabel`` reads as seeds.
    """
    map_kind = 'normalized'

    def __init__(self,
                 high_thr: float = 0.55,
                 low_thr: float = 0.35,
                 scales: Sequence[float] = (1.0, ),
                 flip: bool = False,
                 flip_merge: str = 'sum',
                 norm: str = 'max',
                 refine: Optional[dict] = None,
                 refine_scale: float = 0.5,
                 affinity: Optional[str] = None,
                 affinity_start_iter: int = 0,
                 affinity_radius: int = 8,
                 cams: str = 'cams',
                 ignore_index: int = 255):
        super().__init__()
        if cams not in ('cams', 'cam_logits') and (tuple(scales) != (1.0, ) or flip):
            raise ValueError(f'CAMPseudoLabel: extra scales / flips re-run the CAM head, so they need '
                             f"cams='cams' or 'cam_logits', not {cams!r}")
        self.cams = cams
        if low_thr > high_thr:
            raise ValueError(f'low_thr ({low_thr}) must not exceed high_thr ({high_thr})')
        if affinity is not None and refine is None:
            raise ValueError('affinity propagation (affinity) is followed by refinement: set `refine`')
        self.high_thr, self.low_thr = high_thr, low_thr
        self.scales, self.flip, self.flip_merge, self.norm = tuple(scales), flip, flip_merge, norm
        normalize_cams(torch.zeros(1, 1, 1, 1), norm)  # validates `norm`
        self.refine = MODELS.build(refine) if refine is not None else None
        self.refine_scale = refine_scale
        self.affinity, self.affinity_start_iter = affinity, affinity_start_iter
        self.affinity_radius = affinity_radius
        self.ignore_index = ignore_index

    def map_requests(self):
        return (MapRequest(self.cams, ('relu', ), 'cams'), )

    def head_requests(self):
        return () if self.affinity is None else (self.affinity, )

    def normalized_cams(self, ctx) -> Tensor:
        """(B, K, H, W) normalised CAMs at the input size, computed once per batch (the map named after this
        source)."""
        return ctx.map(self.name, 'normalized') if self.name is not None else self.maps(ctx)

    @torch.no_grad()
    def maps(self, ctx) -> Tensor:
        """This source's map (kind ``normalized``): the CAMs at the input size, at every scale and flip, merged
        and normalised (``norm``)."""
        H, W = ctx.inputs.shape[-2:]
        if self.scales == (1.0, ) and not self.flip:
            cams = F.interpolate(ctx.map(self.cams, 'relu').detach(), size=(H, W), mode='bilinear',
                                 align_corners=False)
        else:
            # the head's logits at extra scales; ReLU before merging (multi_scale_flip_cams) = the 'relu' kind
            cams = multi_scale_flip_cams(lambda x: ctx.cam_views(x, 'cam_logits'), ctx.inputs, self.scales,
                                         self.flip, flip_merge=self.flip_merge)
        return normalize_cams(cams, self.norm)

    def _propagated_scores(self, ctx, cams: Tensor, bg: float) -> Tensor:
        out = ctx.head_outputs[self.affinity]
        aff = out['affinity'].detach()
        h, w = out['grid']
        small = F.interpolate(cams, size=(h, w), mode='bilinear', align_corners=False)
        probs = background_softmax(add_background(small, bg), ctx.img_labels)
        probs = propagate_with_affinity(probs, aff, radius_mask(h, w, self.affinity_radius, cams.device))
        return F.interpolate(probs, size=cams.shape[-2:], mode='bilinear', align_corners=False)

    @torch.no_grad()
    def forward(self, ctx) -> Tensor:
        cams = self.normalized_cams(ctx)
        if self.refine is None:
            return cams_to_pseudo_labels(cams, ctx.img_labels, self.high_thr, self.low_thr, self.ignore_index)
        propagate = self.affinity is not None and ctx.iter >= self.affinity_start_iter
        labels = []
        for bg in (self.high_thr, self.low_thr):
            if propagate:
                scores = self._propagated_scores(ctx, cams, bg)
                # refine the probabilities (already softmaxed) with classes outside the labels at 0
                labels.append(refine_and_argmax(self.refine, ctx.images, scores, self.refine_scale))
            else:
                scores = add_background(cams, bg)
                H, W = ctx.images.shape[-2:]
                size = (max(1, int(H * self.refine_scale)), max(1, int(W * self.refine_scale)))
                probs = background_softmax(F.interpolate(scores, size=size, mode='bilinear', align_corners=False),
                                           ctx.img_labels)
                labels.append(refine_and_argmax(self.refine, ctx.images, probs, self.refine_scale))
        return band_labels(labels[0], labels[1], self.ignore_index)
