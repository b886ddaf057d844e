"""ECA's equations (Wu et al., "DINO is Also a Semantic Guider: Exploiting Class-aware Affinity for Weakly
Supervised Semantic Segmentation", ACM MM 2024, Sec. 3), one function each, on flattened grids.

Shapes: B images, K foreground classes (channel 0 of a ``(B, 1 + K, N)`` tensor is background), N grid positions.
"""
from typing import Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.checkpoint import checkpoint


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
    keep = torch.cat([classes.new_ones(B, 1), classes], dim=1).bool()
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


def minmax(x: Tensor, eps: float = 1e-5) -> Tensor:
    """Min-max normalisation over the last dimension (ECA: 'min-max normalization is applied')."""
    low = x.min(dim=-1, keepdim=True)[0]
    high = x.max(dim=-1, keepdim=True)[0]
    return (x - low) / (high - low + eps)


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


def js_divergence(p: Tensor, q: Tensor, eps: float = 1e-8) -> Tensor:
    """Jensen-Shannon divergence in base 2 (in [0, 1]) between distributions over the last dimension."""
    m = 0.5 * (p + q)
    kl_pm = (p * (torch.log2(p + eps) - torch.log2(m + eps))).sum(-1)
    kl_qm = (q * (torch.log2(q + eps) - torch.log2(m + eps))).sum(-1)
    return 0.5 * (kl_pm + kl_qm)


def entropy2(p: Tensor, eps: float = 1e-8) -> Tensor:
    """Shannon entropy in bits over the last dimension."""
    return -(p * torch.log2(p + eps)).sum(-1)


def _pair_sums(p_rows: Tensor, p_all: Tensor, h_rows: Tensor, h_all: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
    """Per view, sums of JS over the positive and the negative pairs of a block of rows: (V, 2).
    JS(p, q) = H((p + q) / 2) - (H(p) + H(q)) / 2, so only the mixture's entropy is pairwise."""
    js = entropy2(0.5 * (p_rows[:, :, None] + p_all[:, None])) - 0.5 * (h_rows[:, :, None] + h_all[:, None])
    return torch.stack([(js * pos).flatten(1).sum(1), (js * neg).flatten(1).sum(1)], dim=1)


def correspondence_loss_js(probs: Tensor, labels: Tensor, reading: str = 'intended', chunk: int = 2**24,
                           ignore_index: int = 255) -> Tensor:
    """ECA Eq. 11, one value per local view: probs (V, N, C) CAM distributions, labels (V, N) the global pseudo
    labels of each view's positions -> (V,). Pairs (i != j, neither ignored) sharing a label are positive,
    others negative.

    ``reading='intended'``: mean JS over positives + mean (1 - JS) over negatives (what the text describes:
    similar activations for positive pairs). ``'literal'``: the equation as printed, mean (1 - JS) over positives
    + mean JS over negatives (it pushes positive pairs apart). The pairwise (V, N, N, C) mixture is built in
    blocks of rows of at most ``chunk`` elements, each recomputed in backward (activation checkpointing) when
    there are several, so memory stays bounded (64 x 64 views: N^2 C = 335M floats per view otherwise)."""
    if reading not in ('intended', 'literal'):
        raise ValueError(f"reading must be 'intended' or 'literal', got {reading!r}")
    V, N, C = probs.shape
    rows_per = max(1, chunk // max(V * N * C, 1))
    valid = labels != ignore_index
    h = entropy2(probs)
    sums = probs.new_zeros(V, 2)
    n_pos, n_neg = probs.new_zeros(V), probs.new_zeros(V)
    for start in range(0, N, rows_per):
        rows = slice(start, min(start + rows_per, N))
        both = valid[:, rows, None] & valid[:, None]
        same = labels[:, rows, None] == labels[:, None]
        idx = torch.arange(rows.start, rows.stop, device=labels.device)
        diag = torch.zeros_like(both[0])
        diag[idx - rows.start, idx] = True
        pos = (both & same & ~diag).to(probs.dtype)
        neg = (both & ~same).to(probs.dtype)
        n_pos, n_neg = n_pos + pos.flatten(1).sum(1), n_neg + neg.flatten(1).sum(1)
        args = (probs[:, rows], probs, h[:, rows], h, pos, neg)
        if probs.requires_grad and rows_per < N:
            sums = sums + checkpoint(_pair_sums, *args, use_reentrant=False)
        else:
            sums = sums + _pair_sums(*args)
    mean_pos, mean_neg = sums[:, 0] / n_pos.clamp_min(1), sums[:, 1] / n_neg.clamp_min(1)
    has_pos, has_neg = (n_pos > 0).to(probs.dtype), (n_neg > 0).to(probs.dtype)
    if reading == 'intended':
        return mean_pos + (1 - mean_neg) * has_neg
    return (1 - mean_pos) * has_pos + mean_neg


def correspondence_loss_code(logits: Tensor, labels: Tensor, ignore_index: int = 255) -> Tensor:
    """The official ECA code's stand-in for Eq. 11 (``get_masked_ptc_loss``) for one image: logits (V, N, C) raw
    CAM logit vectors of its V local views, labels (V, N) (a 2-D (N, C) / (N,) input is one view).

    The |cosine| (L2 normalisation with eps 1e-8, as the code) is taken between positions *of the same view*;
    positive pairs share a label (i = j and ignored positions excluded), negatives differ; the pair sums and the
    counts run over all views together: ``0.5 (1 - sum_pos |cos| / (n_pos + 1)) + 0.5 sum_neg |cos| /
    (n_neg + 1)``. (Before, both views' positions were pooled into one set, which also paired positions across
    views.)"""
    if logits.dim() == 2:
        logits, labels = logits[None], labels[None]
    x = F.normalize(logits, dim=-1, eps=1e-8)
    cos = (x @ x.transpose(1, 2)).abs()                                            # V, N, N
    valid = labels != ignore_index
    both = valid[:, :, None] & valid[:, None]
    same = labels[:, :, None] == labels[:, None]
    eye = torch.eye(labels.shape[1], dtype=torch.bool, device=labels.device)
    pos = (both & same & ~eye).to(cos.dtype)
    neg = (both & ~same).to(cos.dtype)
    return 0.5 * (1 - (cos * pos).sum() / (pos.sum() + 1)) + 0.5 * (cos * neg).sum() / (neg.sum() + 1)


def cam_distribution(logits: Tensor, mode: str = 'softmax', eps: float = 1e-6) -> Tensor:
    """A position's CAM vector (..., C) as a distribution for Eq. 11 (the paper does not say how): softmax of
    the logits, or the L1-normalised ReLU activations (an all-zero vector becomes uniform)."""
    if mode == 'softmax':
        return logits.softmax(dim=-1)
    if mode == 'l1':
        a = F.relu(logits) + eps
        return a / a.sum(dim=-1, keepdim=True)
    raise ValueError(f"distribution must be 'softmax' or 'l1', got {mode!r}")


