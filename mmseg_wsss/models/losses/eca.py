"""ECA's loss equations (Wu et al., "DINO is Also a Semantic Guider: Exploiting Class-aware Affinity for Weakly
Supervised Semantic Segmentation", ACM MM 2024, Sec. 3.4, Eq. 11, and the official code's form), one function
each, on flattened grids. The CARM maths (Eqs. 2-10) are in ``mmseg_wsss.models.pseudo_labels.carm_ops``.

Shapes: B images, K foreground classes (channel 0 of a ``(B, 1 + K, N)`` tensor is background), N grid positions.
"""
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.checkpoint import checkpoint


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


