"""WeakCLIP's WSSS losses (Zhu et al., IJCV; the DSRG losses of Huang et al., CVPR 2018), one function per
equation. Both are computed at the paper's loss resolution (64 x 64) on the decoder's class probabilities.
"""
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

PROB_EPS = 1e-7  # the official code: softmax + 1e-7, renormalised


def seed_probabilities(logits: Tensor, eps: float = PROB_EPS) -> Tensor:
    """Class probabilities as the official code makes them for both losses: softmax + ``eps``, renormalised."""
    p = logits.softmax(1) + eps
    return p / p.sum(1, keepdim=True)


def balanced_seed_loss(probs: Tensor, seeds: Tensor, ignore_index: int = 255, bg_log: bool = True) -> Tensor:
    """Balanced seeding loss, WeakCLIP Eq. 12 (DSRG's seed loss).

    ``L = -1/sum_{k in K}|M_k| sum_{k in K} sum_{u in M_k} log P_{u,k}
          -1/|M_bg| sum_{u in M_bg} log P_{u,bg}``

    per image, averaged over the batch: K = the foreground classes with seeds, M_k = the pixels seeded with class
    k (``seeds`` (B, H, W), class 0 = background, ``ignore_index`` = no cue). The denominators are
    ``max(count, 1e-4)`` as in the code, so an image without cues of a kind adds 0 for it. The paper prints the
    background term without its log (``bg_log=False`` reproduces that literally); it is a typo: the code and
    DSRG take the log of both.

    Args:
        probs: (B, C, H, W) class probabilities (background = channel 0).
        seeds: (B, H, W) long seed labels at the same resolution.
    """
    B, C = probs.shape[:2]
    valid = (seeds != ignore_index) & (seeds < C)
    idx = torch.where(valid, seeds, torch.zeros_like(seeds))
    p_seed = probs.gather(1, idx[:, None]).squeeze(1)  # (B, H, W): P of the seeded class
    bg = valid & (seeds == 0)
    fg = valid & (seeds > 0)
    fg_term = -(torch.log(p_seed) * fg).flatten(1).sum(1) / fg.flatten(1).sum(1).clamp_min(1e-4)
    bg_val = torch.log(p_seed) if bg_log else p_seed
    bg_term = -(bg_val * bg).flatten(1).sum(1) / bg.flatten(1).sum(1).clamp_min(1e-4)
    return (fg_term + bg_term).mean()


def boundary_loss(probs: Tensor, crf_probs: Tensor, ratio_clip: Optional[Tuple[float, float]] = None) -> Tensor:
    """Boundary (constrain-to-boundary) loss, WeakCLIP Eq. 13 (SEC / DSRG):

    ``L = 1/n sum_u sum_k Psi_{u,k} log(Psi_{u,k} / P_{u,k})``

    the KL divergence from the CRF-refined probabilities ``crf_probs`` = Psi(I, P) (a constant: no gradient) to
    the prediction ``probs``, averaged over the n pixels of the batch. The sum runs over every class channel (the
    paper writes k in K, the image's classes, but Psi is a distribution over all classes, as in DSRG and the code).
    ``ratio_clip=(0.05, 20)`` clips Psi / P before the log, as the official code does (the paper does not).

    Args:
        probs / crf_probs: (B, C, H, W) probabilities.
    """
    q = crf_probs.detach()
    ratio = q / probs
    if ratio_clip is not None:
        ratio = ratio.clamp(*ratio_clip)
    return (q * torch.log(ratio)).sum(1).mean()


CRF_IMAGE_RESIZES = ('torch', 'scipy')


def crf_image(images: Tensor, size: Tuple[int, int], resize: str = 'torch') -> Tensor:
    """The image I of Eq. 13 at the loss resolution: (B, 3, H, W) RGB in [0, 1] -> (B, 3, h, w) uint8.

    ``'torch'`` (default): torch's half-pixel bilinear resize, then rounding to uint8. ``'scipy'``: the official
    code's ``scipy.ndimage.zoom(order=1)`` of the de-normalised 0-255 image (corner-aligned linear), then
    truncation to uint8 (numpy's ``astype``); the two differ by about 2 % on the loss.
    """
    if resize not in CRF_IMAGE_RESIZES:
        raise ValueError(f'crf image resize {resize!r}: expected one of {CRF_IMAGE_RESIZES}')
    x = images.detach().float().clamp(0, 1)
    h, w = size
    if resize == 'torch':
        x = F.interpolate(x, size=(h, w), mode='bilinear', align_corners=False)
        return (x * 255).round().to(torch.uint8)
    from scipy import ndimage
    arr = x.cpu().numpy() * 255
    zoom = (1, 1, h / arr.shape[2], w / arr.shape[3])
    out = np.clip(ndimage.zoom(arr, zoom, order=1), 0, 255).astype(np.uint8)
    return torch.from_numpy(out).to(images.device)


def crf_refine_batch(images: Tensor, probs: Tensor, min_prob: float = 1e-4, n_iters: int = 10, pos_sxy: float = 3,
                     pos_compat: float = 3, bi_sxy: float = 80, bi_srgb: float = 13, bi_compat: float = 10) -> Tensor:
    """Psi(I, P) of Eq. 13: a dense CRF (CPU) per image on detached probabilities.

    ``images``: (B, 3, H, W) at the probabilities' resolution, uint8 (see :func:`crf_image`) or RGB in [0, 1]
    (rounded to uint8 here); ``probs`` (B, C, H, W). Probabilities are clipped to >= ``min_prob`` and
    renormalised before and after the CRF, as in the code. Kernel defaults are the official WeakCLIP / DSRG ones
    (gaussian sxy 3, compat 3; bilateral sxy 80, srgb 13, compat 10; 10 iterations). Returns a constant tensor
    like ``probs``.
    """
    from ...utils.crf import crf_from_probs
    if images.dtype != torch.uint8:
        images = (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)
    imgs = images.permute(0, 2, 3, 1).contiguous().cpu().numpy()
    p = probs.detach().float().clamp_min(min_prob)
    p = (p / p.sum(1, keepdim=True)).cpu().numpy()
    out = np.stack([crf_from_probs(imgs[i], p[i], n_iters=n_iters, pos_sxy=pos_sxy, pos_compat=pos_compat,
                                   bi_sxy=bi_sxy, bi_srgb=bi_srgb, bi_compat=bi_compat) for i in range(len(p))])
    q = torch.from_numpy(out).to(probs.device, probs.dtype).clamp_min(min_prob)
    return q / q.sum(1, keepdim=True)
