from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from ...utils.cam_ops import minmax
from ...utils.labels import resize_labels, with_background
from ..maps import MapRequest
from ..parts import BasePseudoLabelSource
from .cam_pseudo_label import refine_and_argmax
from .carm_ops import (calibrate, class_aware_maps, foreground_cue, key_affinity, prototype_similarity, prototype_sums,
                       select_seeds)


def seeds_from_labels(labels: Tensor, grid, present: Tensor, ignore_index: int = 255) -> Tensor:
    """Seeds Q_c (B, 1 + K, N) bool taken from hard labels (B, H, W) instead of Eq. 3: the labels nearest-resized
    to ``grid``; every labelled position of a present class (or background) is a seed, ``ignore_index`` none."""
    small = resize_labels(labels, grid).flatten(1)
    keep = with_background(present)                                                     # B, 1 + K
    ids = torch.arange(present.shape[1] + 1, device=labels.device)[None, :, None]
    return (small[:, None] == ids) & keep[..., None]


@MODELS.register_module()
class CARMPseudoLabel(BasePseudoLabelSource):
    """ECA's class-aware affinity region map (CARM) pseudo labels (Wu et al., ACM MM 2024, Sec. 3.2).

    For each DINO scale (``scales``, the official code's [1.0, 0.5]): the CAM source's normalised CAMs at the
    DINO grid give seeds (Eqs. 2-3, top ``top_k``), the frozen DINO encoder's last-block keys the affinity graph
    (Eq. 4) and its class-token query the foreground cue (Eq. 5); seeds propagate with threshold ``gamma``
    (Eqs. 6-7); each map is min-max normalised and resized to the first scale's grid (H/8), the scales are summed
    and min-max normalised again. The momentum prototypes (Eq. 8, a :class:`ClassMemory` of the backbone's
    features at the seeds, all-reduced across ranks, saved in checkpoints) calibrate the foreground maps
    (Eqs. 9-10). The label is the argmax of [background, labelled classes] after PAR (``refine``) at
    ``refine_scale`` of the crop, without an ignore band (as the official code).

    Every difference between the paper and the official code is an option; the defaults are the paper's:
        seed_bg: 'paper' (Eq. 2, 1 - max CAM) or a constant (code: 0.45).
        seed_count: 'paper' (round(k n), at least 1) or 'code' (round(k n) + 1), k n in float64 as Python's round.
        seed_bg_cams: 'all' (Eq. 2: M_0 = 1 - max over all foreground CAMs; also the code) or 'labels' (a variant:
            max over the labelled classes only).
        classes: 'labels' (paper: the image labels) or 'cam_label' (code: classes present in the CAM label).
        fg_mode: 'continuous' (Eq. 7 times I_fg) or 'binary' (code: times (I_fg > fg_gate_thr)).
        calib_power / calib_renorm / calib_min_classes: paper 2 / True / 1; code 1.5 / False / 2 (the code
            also min-max normalises S^1.5 before the product: ``calib_norm_similarity=True``, a * minmax(S^1.5)).
        proto_update: 'seeds' (paper Eq. 8: mean feature at the seeds, before calibration) or 'top' (code: mean
            at the ``proto_top`` = 8 highest calibrated positions, after calibration).
        bg_clip: None (paper) or (0.1, 0.6) (code: the background map clipped before the argmax).

    Args:
        encoder: name of the DINO encoder (``DINOViTEncoder``) among the model's encoders.
        seeds: the map that seeds the CARM (:mod:`mmseg_wsss.models.maps`), read as ``normalized`` CAMs (Eqs.
            2-3: a ``CAMPseudoLabel`` source's multi-scale CAMs, the CAM head's ``'cams'``, WeakCLIP's
            ``score_map``, ...) or, when the map is hard ``labels`` (a ``SeedLabels`` PNG folder, another
            source's labels), taken as the seeds themselves (nearest-resized to the DINO grid, 255 = no seed).
        cam_source: the former name of ``seeds`` (used when given).
        memory: ``ClassMemory`` config (num_classes = K, dim = the backbone feature's channels), None: no
            calibration.
        feature_index: which feature map the prototypes are made of (MiT stage 4).
        features: 'neck' (``ctx.feats``, what the heads read by default) or 'backbone' (``ctx.backbone_feats``,
            before the neck: a frozen tower's tokens when the trained features start from random).
    """

    def __init__(self,
                 encoder: str = 'dino',
                 seeds: str = 'cam',
                 cam_source: Optional[str] = None,
                 scales: Sequence[float] = (1.0, 0.5),
                 top_k: float = 0.3,
                 gamma: float = 0.15,
                 seed_bg: Union[str, float] = 'paper',
                 seed_count: str = 'paper',
                 seed_bg_cams: str = 'all',
                 classes: str = 'labels',
                 fg_mode: str = 'continuous',
                 fg_gate_thr: float = -0.5,
                 memory: Optional[dict] = None,
                 feature_index: int = -1,
                 features: str = 'neck',
                 calib_power: float = 2.0,
                 calib_renorm: bool = True,
                 calib_min_classes: int = 1,
                 calib_norm_similarity: bool = False,
                 proto_update: str = 'seeds',
                 proto_top: int = 8,
                 bg_clip: Optional[Sequence[float]] = None,
                 refine: Optional[dict] = dict(type='PAR'),
                 refine_scale: float = 0.5,
                 ignore_index: int = 255):
        super().__init__()
        if classes not in ('labels', 'cam_label'):
            raise ValueError(f"classes must be 'labels' or 'cam_label', got {classes!r}")
        if proto_update not in ('seeds', 'top'):
            raise ValueError(f"proto_update must be 'seeds' or 'top', got {proto_update!r}")
        self.seeds = cam_source if cam_source is not None else seeds
        self.cam_source = self.seeds  # the source whose labels `classes='cam_label'` reads
        self.encoder, self.scales = encoder, tuple(scales)
        self.top_k, self.gamma, self.seed_bg, self.seed_count = top_k, gamma, seed_bg, seed_count
        if seed_bg_cams not in ('all', 'labels'):
            raise ValueError(f"seed_bg_cams must be 'all' or 'labels', got {seed_bg_cams!r}")
        self.seed_bg_cams = seed_bg_cams
        self.classes, self.fg_mode, self.fg_gate_thr = classes, fg_mode, fg_gate_thr
        self.memory = MODELS.build(dict(type='ClassMemory', **memory)) if memory is not None else None
        self.feature_index = feature_index
        if features not in ('neck', 'backbone'):
            raise ValueError(f"features must be 'neck' or 'backbone', got {features!r}")
        self.features = features
        self.calib_power, self.calib_renorm = calib_power, calib_renorm
        self.calib_min_classes, self.calib_norm_similarity = calib_min_classes, calib_norm_similarity
        self.proto_update, self.proto_top = proto_update, proto_top
        self.bg_clip = tuple(bg_clip) if bg_clip is not None else None
        self.refine = MODELS.build(refine) if refine is not None else None
        self.refine_scale = refine_scale
        self.ignore_index = ignore_index

    def map_requests(self):
        return (MapRequest(self.seeds, ('normalized', 'labels'), 'seeds'), )

    def _present(self, ctx) -> Tensor:
        if self.classes == 'labels':
            return ctx.img_labels
        lab = ctx.pseudo_label(self.cam_source).flatten(1).long()
        (B, K), device = ctx.img_labels.shape, lab.device
        lab = torch.where((lab >= 0) & (lab <= K), lab, 0)  # ignore (255) counts as background, never a class
        # one bincount over (image, label) instead of K full-resolution comparisons
        counts = torch.bincount((lab + (K + 1) * torch.arange(B, device=device)[:, None]).flatten(),
                                minlength=B * (K + 1)).view(B, K + 1)
        hot = counts[:, 1:] > 0
        return hot.to(ctx.img_labels.dtype) * ctx.img_labels

    def _encode(self, ctx, scale: float):
        if scale == 1.0:
            return ctx.encoded(self.encoder)
        images = F.interpolate(ctx.images, scale_factor=scale, mode='bilinear', align_corners=False)
        with torch.no_grad():
            return ctx.encoder(self.encoder).encode_batch(images)

    @torch.no_grad()
    def maps(self, ctx, update_memory: Optional[bool] = None) -> Tensor:
        """(B, 1 + K, h, w) calibrated CARMs at the first scale's DINO grid (background first); absent classes 0.
        The prototypes are updated when the model is training (or when ``update_memory`` says so)."""
        if update_memory is None:
            update_memory = ctx.training
        cams = ctx.map(self.seeds, ('normalized', 'labels'))
        label_seeds = ctx.map_kind(self.seeds, ('normalized', 'labels')) == 'labels'
        present = self._present(ctx)
        B, K = present.shape
        total, grid, seeds0 = None, None, None
        for scale in self.scales:
            enc = self._encode(ctx, scale)
            h, w = enc['grid']
            if label_seeds:
                seeds = seeds_from_labels(cams, (h, w), present, self.ignore_index)
            else:
                small = F.interpolate(cams, size=(h, w), mode='bilinear', align_corners=False).flatten(2)
                seeds = select_seeds(small, present, self.top_k, self.seed_bg, self.seed_count, self.seed_bg_cams)
            keys = enc['keys'].float()
            carm = class_aware_maps(seeds, key_affinity(keys), foreground_cue(enc['cls_query'].float(), keys),
                                    self.gamma, self.fg_mode, self.fg_gate_thr)
            carm = minmax(carm).view(B, K + 1, h, w)
            if grid is None:
                grid, seeds0 = (h, w), seeds
            else:
                carm = F.interpolate(carm, size=grid, mode='bilinear', align_corners=False)
            total = carm if total is None else total + carm
        carm = minmax(total.flatten(2))                                                  # B, 1 + K, N
        if self.memory is not None:
            feats = (ctx.feats if self.features == 'neck' else ctx.backbone_feats)[self.feature_index]
            feats = feats.detach().float()
            feats = F.interpolate(feats, size=grid, mode='bilinear', align_corners=False).flatten(2)  # B, D, N
            if update_memory and self.proto_update == 'seeds':
                self.memory.update(*prototype_sums(feats, seeds0[:, 1:]))
            sim = prototype_similarity(feats, self.memory.bank)
            calibrated = calibrate(carm[:, 1:], sim, self.calib_power, self.calib_renorm, self.calib_norm_similarity)
            which = (present.sum(dim=1) >= self.calib_min_classes)[:, None, None]
            fg = torch.where(which, calibrated, carm[:, 1:])
            carm = torch.cat([carm[:, :1], fg], dim=1)
            if update_memory and self.proto_update == 'top':
                top = fg.topk(min(self.proto_top, fg.shape[-1]), dim=-1).indices
                picked = torch.zeros_like(fg, dtype=torch.bool).scatter_(-1, top, True)
                picked &= present.bool()[..., None]
                self.memory.update(*prototype_sums(feats, picked))
        carm = carm * with_background(present)[..., None].to(carm.dtype)
        return carm.view(B, K + 1, *grid)

    @torch.no_grad()
    def forward(self, ctx) -> Tensor:
        carm = self.maps(ctx)
        present = self._present(ctx)
        if self.bg_clip is not None:
            carm = torch.cat([carm[:, :1].clamp(*self.bg_clip), carm[:, 1:]], dim=1)
        # absent classes below every present score, so the argmax never picks them
        keep = with_background(present)
        carm = carm.masked_fill(~keep[..., None, None], -1.0)
        if self.refine is None:
            H, W = ctx.inputs.shape[-2:]
            return F.interpolate(carm, size=(H, W), mode='bilinear', align_corners=False).argmax(dim=1)
        return refine_and_argmax(self.refine, ctx.images, carm, self.refine_scale)
