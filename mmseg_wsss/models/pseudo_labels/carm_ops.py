"""ECA's CARM maths (Wu et al., "DINO is Also a Semantic Guider: Exploiting Class-aware Affinity for Weakly
Supervised Semantic Segmentation", ACM MM 2024, Sec. 3.2-3.3, Eqs. 2-10), one function per equation, on flattened
grids; :class:`CARMPseudoLabel` composes them. ECA's loss (Eq. 11) is in ``mmseg_wsss.models.losses.eca``.

Shapes: B images, K foreground classes (channel 0 of a ``(B, 1 + K, N)`` tensor is background), N grid positions.
"""
from typing import Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from ...utils.cam_ops import minmax
from ...utils.labels import with_background


def background_cam(cams: Tensor) -> Tensor:
    """ECA Eq. 2: M_0 = 1 - max_c M_c over normalised foreground CAMs (B, K, N) -> (B, N)."""
    return 1 - cams.max(dim=1)[0] if cams.shape[1] else cams.new_ones(cams.shape[0], cams.shape[2])


def seed_count(nonzero: Tensor, top_k: float, count: str = 'paper') -> Tensor:
    """ECA Eq. 3's |Q_c|: how many of the n nonzero values of M_c (I_cam = c) are seeds, as a long tensor.

    ``count='paper'``: ``round(k n)``, at least one when n > 0. ``'code'``: ``round(k n) + 1``, never more than n
    (the official code calls Python's ``round(len(...) * args.topk) + 1``). Both compute k n in float64 and round
    half to even, which is exactly Python's ``round`` of the Python-float product (0.3 x 95 = 28.5 -> 28; in
    float32 the product is 28.500001 -> 29: 81 of the sizes up to 4096 would get one seed more). For n = 0 the
    official code's topk still returns one zero-valued position; we take none."""
    k_n = (top_k * nonzero.double()).round().long()
    if count == 'paper':
        return torch.where(nonzero > 0, k_n.clamp_min(1), nonzero)
    if count == 'code':
        return torch.minimum(k_n + 1, nonzero)
    raise ValueError(f"count must be 'paper' or 'code', got {count!r}")


def select_seeds(cams: Tensor, classes: Tensor, top_k: float, bg: Union[str, float] = 'paper',
                 count: str = 'paper', bg_cams: str = 'all') -> Tensor:
    """ECA Eq. 3: initial CAM seeds Q_c, (B, 1 + K, N) bool.

    cams (B, K, N) normalised to [0, 1]; classes (B, K) multi-hot (the image's labelled classes).

    Background map M_0 (Eq. 2): ``1 - max_c M_c`` over ``bg_cams='all'`` foreground CAMs (the paper's max over
    1 <= c <= C; the official code's background seeds likewise), or over the labelled classes only
    (``'labels'``, a variant: an absent class that activates then does not lower M_0).

    I_cam = argmax over [background, labelled classes] (the official code zeroes the unlabelled CAMs before its
    argmax): the background entry is M_0 (``bg='paper'``) or a constant (``bg=0.45``, the official code). For
    every class c (background included) the seeds are the top values of M_c masked to I_cam = c, their number
    :func:`seed_count` of the n nonzero ones. The background is always *ranked* by M_0 (Eq. 2), also with the
    constant: the official code takes the constant only for I_cam and ranks the background seeds by
    ``1 - max`` CAM (a constant row would make them an arbitrary tie-break)."""
    if bg_cams not in ('all', 'labels'):
        raise ValueError(f"bg_cams must be 'all' or 'labels', got {bg_cams!r}")
    B, K, N = cams.shape
    fg = cams * classes[..., None].to(cams.dtype)                                  # labelled classes only
    m0 = background_cam(cams if bg_cams == 'all' else fg)                          # Eq. 2, B, N
    owner_bg = m0 if bg == 'paper' else cams.new_full((B, N), float(bg))
    keep = with_background(classes)
    full = torch.cat([owner_bg[:, None], fg], dim=1)                              # B, 1 + K, N
    owner = full.masked_fill(~keep[..., None], float('-inf')).argmax(dim=1)        # I_cam
    own = torch.arange(K + 1, device=cams.device)[None, :, None] == owner[:, None]
    ranked = torch.cat([m0[:, None], fg], dim=1)                                  # what the seeds are ranked by
    masked = ranked * own.to(ranked.dtype) * keep[..., None].to(ranked.dtype)
    nonzero = (masked > 0).sum(dim=-1)                                             # B, 1 + K
    n_seeds = seed_count(nonzero, top_k, count)
    rank = masked.argsort(dim=-1, descending=True).argsort(dim=-1)                 # 0 = largest
    return (rank < n_seeds[..., None]) & (masked > 0)


def key_affinity(keys: Tensor) -> Tensor:
    """ECA Eq. 4: G_aff(i, j) = cosine of the DINO patch keys (B, N, D) -> (B, N, N)."""
    k = F.normalize(keys, dim=-1)
    return k @ k.transpose(1, 2)


def foreground_cue(cls_query: Tensor, keys: Tensor) -> Tensor:
    """ECA Eq. 5: I_fg(i) = cosine of the class token's query (B, D) and patch key i (B, N, D) -> (B, N)."""
    return (F.normalize(keys, dim=-1) @ F.normalize(cls_query, dim=-1)[..., None])[..., 0]


def class_aware_maps(seeds: Tensor, affinity: Tensor, fg_cue: Tensor, gamma: float = 0.15,
                     fg_mode: str = 'continuous', fg_gate_thr: float = -0.5) -> Tensor:
    """ECA Eqs. 6-7: the original CARM, (B, 1 + K, N).

    A(i) = (G_aff(i, :) > gamma) for each seed i; foreground classes: M_c = sum_{i in Q_c} A(i) * I_fg
    (``fg_mode='continuous'``, the paper) or times the gate (I_fg > ``fg_gate_thr``) (``'binary'``, the official
    code); background: M_0 = sum_{i in Q_0} A(i)."""
    adj = (affinity > gamma).to(affinity.dtype)                                    # B, N, N
    degree = seeds.to(affinity.dtype) @ adj                                        # B, 1 + K, N
    if fg_mode == 'continuous':
        cue = fg_cue
    elif fg_mode == 'binary':
        cue = (fg_cue > fg_gate_thr).to(affinity.dtype)
    else:
        raise ValueError(f"fg_mode must be 'continuous' or 'binary', got {fg_mode!r}")
    return torch.cat([degree[:, :1], degree[:, 1:] * cue[:, None]], dim=1)


def prototype_sums(feats: Tensor, seeds: Tensor) -> Tuple[Tensor, Tensor]:
    """The batch's part of ECA Eq. 8: per-class sums of the patch tokens at the seeds and their counts.

    feats (B, D, N); seeds (B, K, N) bool (foreground classes) -> sums (K, D), counts (K,). The momentum update
    ``P_c <- tau P_c + (1 - tau) sums_c / counts_c`` is :class:`mmseg_wsss.models.utils.ClassMemory`'s."""
    s = seeds.to(feats.dtype)
    return torch.einsum('bkn,bdn->kd', s, feats), s.sum(dim=(0, 2))


def prototype_similarity(feats: Tensor, prototypes: Tensor) -> Tensor:
    """ECA Eq. 9: S_c(i) = max(cos(P_c, F(:, i)), 0); feats (B, D, N), prototypes (K, D) -> (B, K, N)."""
    return F.relu(torch.einsum('kd,bdn->bkn', F.normalize(prototypes, dim=-1), F.normalize(feats, dim=1)))


def calibrate(carm: Tensor, similarity: Tensor, power: float = 2.0, renorm: bool = True,
              norm_similarity: bool = False) -> Tensor:
    """ECA Eq. 10: M_c <- minmax(M_c * S_c^2) for the foreground maps (B, K, N), S from Eq. 9 (ReLU'd cosine).

    ``norm_similarity=True`` min-max normalises S^power (per image and class) before the product; with
    ``power=1.5, renorm=False`` that is the official code's ``M_c * minmax(relu(cos)^1.5)`` (it raises the
    ReLU'd cosine to 1.5, then min-max normalises it: not ``minmax(S)^1.5``, which differs when min S > 0)."""
    s = similarity ** power
    if norm_similarity:
        s = minmax(s)
    out = carm * s
    return minmax(out) if renorm else out
