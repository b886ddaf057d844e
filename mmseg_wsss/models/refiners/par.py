"""PAR: pixel-adaptive refinement (Ru et al., "Learning Affinity from Attention", CVPR 2022, Sec. 3.3, Eqs. 5-7).

Every pixel takes the affinity-weighted mean of its neighbours, ``num_iter`` times. Neighbours are the 8
surrounding pixels at each dilation (replicate padding at the borders). Affinities combine colour and position:

    kappa_rgb(i, j) = -(|I_i - I_j| / std_j(I_j) / w1)^2,            softmax over the neighbours j   (Eq. 5)
    kappa_pos(i, j) = -(d_ij / std_j(d) / w1)^2,                      softmax over the neighbours j   (Eq. 6)
    a = softmax(kappa_rgb) + w2 * softmax(kappa_pos)                                                  (Eq. 7)

with, as in the official code, the colour std taken over the neighbours' intensities (per pixel, per channel),
kappa_rgb averaged over RGB, d the offset length (sqrt(2) d on diagonals), w1 = 0.3, w2 = 0.01.

:func:`par_refine` is the one implementation (one replicate padding per iteration, the neighbours as strided
views of it accumulated in place); the straightforward per-dilation form (pad and a one-hot convolution per
dilation, as the official code) is the tests' reference (``tests/test_models/par_reference.py``), which the
benchmark also times (``tools/analysis_tools/benchmark.py --par``).
"""
import math
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

DIRECTIONS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def neighbour_offsets(dilations: Sequence[int]) -> List[Tuple[int, int, float]]:
    """(dy, dx, distance) of the 8 neighbours at every dilation (diagonals at sqrt(2) d)."""
    return [(dy * d, dx * d, d * (math.sqrt(2) if dy and dx else 1.0)) for d in dilations for dy, dx in DIRECTIONS]


def gather_neighbours(x: Tensor, dilations: Sequence[int]) -> Tensor:
    """(B, C, H, W) -> (B, C, K, H, W): the value of each pixel's K = 8 x len(dilations) neighbours, borders
    replicated. One padding by the largest dilation (replicate padding is clamping, so a smaller offset reads
    the same pixels as its own padding would)."""
    H, W = x.shape[-2:]
    p = max(dilations)
    xp = F.pad(x, [p, p, p, p], mode='replicate')
    return torch.stack([xp[..., p + dy:p + dy + H, p + dx:p + dx + W] for dy, dx, _ in neighbour_offsets(dilations)],
                       dim=2)


def par_affinity(images: Tensor, dilations: Sequence[int] = (1, 2, 4, 8, 12, 24), w1: float = 0.3,
                 w2: float = 0.01) -> Tensor:
    """PAR's neighbour weights (B, K, H, W) from RGB images (B, 3, H, W) (Eqs. 5-7)."""
    nb = gather_neighbours(images, dilations)                           # B, 3, K, H, W
    diff = (nb - images[:, :, None]).abs()
    std = nb.std(dim=2, keepdim=True)
    k_rgb = (-(diff / (std + 1e-8) / w1) ** 2).mean(dim=1)              # B, K, H, W
    dist = images.new_tensor([d for _, _, d in neighbour_offsets(dilations)])
    k_pos = -(dist / (dist.std() + 1e-8) / w1) ** 2                     # K
    return k_rgb.softmax(dim=1) + w2 * k_pos.softmax(dim=0)[None, :, None, None]


def par_propagate(masks: Tensor, aff: Tensor, dilations: Sequence[int], num_iter: int) -> Tensor:
    """``num_iter`` times: every pixel <- sum over its neighbours of aff x mask (masks (B, C, H, W), aff
    (B, K, H, W)). One replicate padding per iteration; each neighbour is a strided view of it, accumulated in
    place, so no (B, C, K, H, W) tensor is ever built (the hot spot of AFA-lineage training)."""
    H, W = masks.shape[-2:]
    p = max(dilations)
    offsets = neighbour_offsets(dilations)
    for _ in range(num_iter):
        padded = F.pad(masks, [p, p, p, p], mode='replicate')
        out = torch.zeros_like(masks)
        for k, (dy, dx, _) in enumerate(offsets):
            out.addcmul_(padded[..., p + dy:p + dy + H, p + dx:p + dx + W], aff[:, None, k])
        masks = out
    return masks


def par_refine(images: Tensor, masks: Tensor, dilations: Sequence[int] = (1, 2, 4, 8, 12, 24),
               num_iter: int = 10, w1: float = 0.3, w2: float = 0.01) -> Tensor:
    """Refine ``masks`` (B, C, h, w; resized to the images' size as the official code does, bilinear with
    aligned corners) along the RGB ``images`` (B, 3, H, W). No gradient is needed (pseudo labels)."""
    if masks.shape[-2:] != images.shape[-2:]:
        masks = F.interpolate(masks, size=images.shape[-2:], mode='bilinear', align_corners=True)
    return par_propagate(masks, par_affinity(images, dilations, w1, w2), dilations, num_iter)


@MODELS.register_module()
class PAR(nn.Module):
    """PAR as a configurable module (AFA defaults: dilations [1, 2, 4, 8, 12, 24], 10 iterations, w1 0.3,
    position weight w2 0.01)."""

    def __init__(self, dilations: Sequence[int] = (1, 2, 4, 8, 12, 24), num_iter: int = 10, w1: float = 0.3,
                 w2: float = 0.01):
        super().__init__()
        self.dilations, self.num_iter, self.w1, self.w2 = tuple(dilations), num_iter, w1, w2

    @torch.no_grad()
    def forward(self, images: Tensor, masks: Tensor) -> Tensor:
        return par_refine(images, masks, self.dilations, self.num_iter, self.w1, self.w2)
