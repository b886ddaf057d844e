"""The reference form of PAR (AFA Eqs. 5-7) for the tests and the benchmark: per dilation, replicate padding
and a one-hot 3x3 dilated convolution gather the 8 neighbours, as the official code does. The package's one
implementation is :func:`mmseg_wsss.models.refiners.par_refine`."""
import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from mmseg_wsss.models.refiners.par import DIRECTIONS


def par_refine_loop(images: Tensor, masks: Tensor, dilations: Sequence[int] = (1, 2, 4, 8, 12, 24),
                    num_iter: int = 10, w1: float = 0.3, w2: float = 0.01) -> Tensor:
    """Reference form: per dilation, replicate padding and a one-hot 3x3 dilated convolution gather the 8
    neighbours (the official code's way). Same result as ``par_refine``."""
    kernel = images.new_zeros(8, 1, 3, 3)
    for n, (dy, dx) in enumerate(DIRECTIONS):
        kernel[n, 0, dy + 1, dx + 1] = 1

    def neighbours(x):
        B, C, H, W = x.shape
        out = []
        for d in dilations:
            xp = F.pad(x, [d] * 4, mode='replicate').reshape(B * C, 1, H + 2 * d, W + 2 * d)
            out.append(F.conv2d(xp, kernel, dilation=d).view(B, C, 8, H, W))
        return torch.cat(out, dim=2)

    if masks.shape[-2:] != images.shape[-2:]:
        masks = F.interpolate(masks, size=images.shape[-2:], mode='bilinear', align_corners=True)
    nb = neighbours(images)
    k_rgb = (-((nb - images[:, :, None]).abs() / (nb.std(dim=2, keepdim=True) + 1e-8) / w1) ** 2).mean(1)
    pos = torch.cat([images.new_tensor([math.sqrt(2) if dy and dx else 1.0 for dy, dx in DIRECTIONS]) * d
                     for d in dilations])
    k_pos = -(pos / (pos.std() + 1e-8) / w1) ** 2
    aff = k_rgb.softmax(1) + w2 * k_pos.softmax(0)[None, :, None, None]
    for _ in range(num_iter):
        masks = (neighbours(masks) * aff[:, None]).sum(2)
    return masks
