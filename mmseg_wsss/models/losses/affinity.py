"""Affinity from attention (Ru et al., "Learning Affinity from Attention", CVPR 2022, Sec. 3.2, Eqs. 2-4, 8)."""
from typing import Tuple

import torch
from torch import Tensor

from ...utils.labels import resize_labels


def radius_mask(h: int, w: int, radius: int, device=None) -> Tensor:
    """(N, N) bool, N = h w: True where two grid positions are within ``radius`` in both directions (AFA's
    local window; Chebyshev distance <= radius)."""
    yy, xx = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing='ij')
    yy, xx = yy.flatten(), xx.flatten()
    return ((yy[:, None] - yy[None]).abs() <= radius) & ((xx[:, None] - xx[None]).abs() <= radius)


def affinity_labels(labels: Tensor, size: Tuple[int, int], radius: int, ignore_index: int = 255) -> Tensor:
    """Pairwise affinity labels from pseudo labels (Eq. 2): labels (B, H, W) nearest-downsampled to ``size``;
    1 where two positions share a label (background pairs too), 0 where they differ, ``ignore_index`` where
    either is ignored or the pair is beyond ``radius``. Returns (B, N, N) long."""
    small = resize_labels(labels, size).flatten(1)  # B, N
    same = (small[:, :, None] == small[:, None, :]).long()
    ignored = (small == ignore_index)
    same[ignored[:, :, None] | ignored[:, None, :]] = ignore_index
    same[:, ~radius_mask(*size, radius, labels.device)] = ignore_index
    return same


def affinity_loss(pred: Tensor, target: Tensor, ignore_index: int = 255) -> Tensor:
    """The balanced affinity loss (AFA Eq. 3 / 4, the official code's form): with p the predicted affinity in
    (0, 1), ``0.5 sum_pos (1 - p) / (n_pos + 1) + 0.5 sum_neg p / (n_neg + 1)`` over every valid pair of the
    batch (positives: target 1, negatives: target 0)."""
    pos, neg = (target == 1).to(pred.dtype), (target == 0).to(pred.dtype)
    return 0.5 * ((1 - pred) * pos).sum() / (pos.sum() + 1) + 0.5 * (pred * neg).sum() / (neg.sum() + 1)
