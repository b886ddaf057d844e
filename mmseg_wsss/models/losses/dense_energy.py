"""The dense-CRF energy regulariser (Tang et al., "On Regularized Losses for Weakly-supervised CNN Segmentation",
ECCV 2018, Eq. 5, the dense Potts relaxation S^T W (1 - S)), in ToCo's form (rulixiang/ToCo, model/losses.py
``DenseEnergyLoss``: DALNet's reconstruction, option 9's alternative, papers/facts/dalnet.md).

W is the dense bilateral Gaussian W_ij = exp(-|p_i - p_j|^2 / (2 sigma_xy^2) - |I_i - I_j|^2 / (2 sigma_rgb^2))
over all pixel pairs of one image (positions in pixels, colours in 0..255). The official codes approximate W S
with a permutohedral lattice (a CUDA / C++ extension); here it is computed exactly, in row chunks, and the
gradient (W g, W being symmetric) is recomputed in chunks too, so memory stays O(chunk x pixels).
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd import Function


def _gaussian_apply(f: Tensor, s: Tensor, chunk: int) -> Tensor:
    """W s for one image: ``f`` (N, d) scaled features (W_ij = exp(-|f_i - f_j|^2 / 2)), ``s`` (N, K)."""
    out = torch.empty_like(s)
    sq = (f * f).sum(1)
    for a in range(0, f.shape[0], chunk):
        d2 = (sq[a:a + chunk, None] + sq[None] - 2 * f[a:a + chunk] @ f.t()).clamp_min_(0)
        out[a:a + chunk] = torch.exp(-0.5 * d2) @ s
    return out


class _DenseGaussian(Function):
    """y = W s per image (B, N, K), with W symmetric and constant: the backward is W g, recomputed."""

    @staticmethod
    def forward(ctx, s: Tensor, feats: Tensor, chunk: int) -> Tensor:
        ctx.save_for_backward(feats)
        ctx.chunk = chunk
        return torch.stack([_gaussian_apply(feats[b], s[b], chunk) for b in range(s.shape[0])])

    @staticmethod
    def backward(ctx, g: Tensor):
        (feats, ) = ctx.saved_tensors
        return torch.stack([_gaussian_apply(feats[b], g[b], ctx.chunk) for b in range(g.shape[0])]), None, None


def bilateral_features(images: Tensor, sigma_rgb: float, sigma_xy: float) -> Tensor:
    """(B, 3, H, W) colours in 0..255 -> (B, H*W, 5) features [x / sigma_xy, y / sigma_xy, rgb / sigma_rgb]."""
    B, _, H, W = images.shape
    ys, xs = torch.meshgrid(torch.arange(H, dtype=images.dtype, device=images.device),
                            torch.arange(W, dtype=images.dtype, device=images.device), indexing='ij')
    pos = torch.stack([xs, ys]).expand(B, 2, H, W) / sigma_xy
    return torch.cat([pos, images / sigma_rgb], 1).flatten(2).transpose(1, 2)


def dense_filter(s: Tensor, images: Tensor, sigma_rgb: float, sigma_xy: float, chunk: int = 2048) -> Tensor:
    """W S: the dense bilateral Gaussian of ``images`` (B, 3, H, W; 0..255) applied to maps ``s`` (B, K, H, W),
    differentiable in ``s`` (exact; the lattice of the official codes approximates it)."""
    B, K, H, W = s.shape
    feats = bilateral_features(images.float(), sigma_rgb, sigma_xy)
    out = _DenseGaussian.apply(s.float().flatten(2).transpose(1, 2).contiguous(), feats, chunk)
    return out.transpose(1, 2).reshape(B, K, H, W).to(s.dtype)


def dense_energy_loss(probs: Tensor, images: Tensor, roi: Tensor, unlabeled: Optional[Tensor] = None,
                      sigma_rgb: float = 15.0, sigma_xy: float = 100.0, scale: float = 0.5, gate: bool = True,
                      grad: str = 'code', chunk: int = 2048) -> Tensor:
    """ToCo's dense energy: -(1/B) sum_b sum_k S_k . (G_k * (W S_k)), on images, probabilities, ROI and
    unlabeled masks resized by ``scale`` (sigma_xy scaled with them).

    Args:
        probs: (B, K, H, W) softmax probabilities of the segmentation (background included).
        images: (B, 3, H, W) colours in 0..255.
        roi: (B, H, W) 1 inside the image, 0 on padding (S is zeroed there).
        unlabeled: (B, H, W) bool, pseudo label 255 (the gate is 1 there).
        gate: ToCo's gate G = max(roi - max_k S_k, 0), 1 on unlabeled pixels, constant (detached); False: G = 1,
            Tang et al.'s -S^T W S (their S^T W (1 - S) up to a constant).
        grad: 'code' (default: ToCo's hand-written backward, -2 G (W S) / B, which drops the W (G S) half of
            the exact gradient; Tang et al.'s, for G = 1) or 'exact' (autograd of the value above).
    """
    if grad not in ('exact', 'code'):
        raise ValueError(f"grad must be 'exact' or 'code', got {grad!r}")
    if scale != 1:
        # ToCo: nearest for the images, ROI and labels, bilinear for the probabilities
        images = F.interpolate(images, scale_factor=scale, recompute_scale_factor=True)
        probs = F.interpolate(probs, scale_factor=scale, mode='bilinear', align_corners=False,
                              recompute_scale_factor=True)
        roi = F.interpolate(roi[:, None].float(), scale_factor=scale, recompute_scale_factor=True)[:, 0]
        if unlabeled is not None:
            unlabeled = F.interpolate(unlabeled[:, None].float(), scale_factor=scale, mode='nearest',
                                      recompute_scale_factor=True)[:, 0] > 0.5
    B = probs.shape[0]
    roi = roi.float()
    s = probs * roi[:, None]
    if gate:
        g = roi - probs.detach().amax(1)
        if unlabeled is not None:
            g = torch.where(unlabeled, torch.ones_like(g), g)
        g = g.clamp_min(0)[:, None]
    else:
        g = torch.ones_like(roi)[:, None]
    ws = dense_filter(s, images, sigma_rgb, sigma_xy * scale, chunk)
    value = -(s * g * ws).sum() / B
    if grad == 'exact':
        return value
    # ToCo's backward: d/dS = -2 G (W S) / B (times the ROI), the value unchanged
    surrogate = -2 * (s * (g * ws).detach()).sum() / B
    return value.detach() + surrogate - surrogate.detach()
