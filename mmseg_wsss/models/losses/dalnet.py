"""DALNet / DIAL (Jang et al., ECCV 2024): global and local image-text alignment, one function per equation.

Only the abstract and the supplementary of the paper are readable; the forms below are the reconstruction of
``papers/facts/dalnet.md`` (E1-E5, Eqs. 6-7 there), each alternative an argument. Sources per equation:
configs/dalnet/README.md. Symbols: B images, K foreground classes, D joint width, N = h * w patches (row-major);
``text`` (K, D) and ``bg_text`` (D,) are L2-normalised text embeddings, ``img_labels`` (B, K) multi-hot; patch
label maps hold 0 = background, k + 1 = class k, ``ignore_index`` = ignored.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

SIMILARITIES = ('clamp', 'affine', 'sigmoid')


def alignment_similarity(cos: Tensor, form: str = 'clamp', eps: float = 1e-4, temperature: float = 0.07) -> Tensor:
    """E1 [reconstructed]: a cosine as a similarity in (0, 1) for the log-likelihood alignment losses.

    ``clamp`` (default): clamp(cos, eps, 1 - eps); ``affine``: (1 + cos) / 2; ``sigmoid``: sigmoid(cos / T); the
    last two also clamped to [eps, 1 - eps] so that log and log(1 - .) stay finite.
    """
    if form == 'clamp':
        s = cos
    elif form == 'affine':
        s = (1 + cos) / 2
    elif form == 'sigmoid':
        s = torch.sigmoid(cos / temperature)
    else:
        raise ValueError(f'similarity form must be one of {SIMILARITIES}, got {form!r}')
    return s.clamp(eps, 1 - eps)


def cosine(x: Tensor, text: Tensor) -> Tensor:
    """Cosine of every feature (..., D) with every text embedding (T, D) -> (..., T)."""
    return F.normalize(x, dim=-1) @ F.normalize(text, dim=-1).t()


def gia_loss(cls_token: Tensor, text: Tensor, bg_text: Tensor, img_labels: Tensor, form: str = 'clamp',
             eps: float = 1e-4, temperature: float = 0.07, classes: str = 'sum', absent_push: bool = False) -> Tensor:
    """E2, global implicit alignment (GIA) [third-party form]: the class token v (B, D) pulled to its image's
    class texts and pushed from the background text,

        L_im = mean_b [ - sum_{c present} log s(v, t_c) - log(1 - s(v, t_bg)) ],

    s = :func:`alignment_similarity`. ``classes='mean'`` averages the pull over the present classes;
    ``absent_push`` adds - sum_{c absent} log(1 - s(v, t_c)).
    """
    s = alignment_similarity(cosine(cls_token, text), form, eps, temperature)                # (B, K)
    s_bg = alignment_similarity(cosine(cls_token, bg_text[None]), form, eps, temperature)[:, 0]  # (B,)
    y = img_labels.float()
    pull = -(y * s.log()).sum(1)
    if classes == 'mean':
        pull = pull / y.sum(1).clamp_min(1)
    elif classes != 'sum':
        raise ValueError(f"classes must be 'sum' or 'mean', got {classes!r}")
    loss = pull - (1 - s_bg).log()
    if absent_push:
        loss = loss - ((1 - y) * (1 - s).log()).sum(1)
    return loss.mean()


def patch_text_cams(patches: Tensor, text: Tensor, img_labels: Optional[Tensor] = None,
                    eps: float = 1e-5) -> Tensor:
    """The patch-text CAM [reconstructed]: A_c(j) = relu(cos(p_j, t_c)), zeroed for absent classes, divided by
    (its max over j + eps) per image and class. patches (B, N, D) -> (B, K, N)."""
    cams = F.relu(cosine(patches, text)).transpose(1, 2)  # (B, K, N)
    if img_labels is not None:
        cams = cams * img_labels[..., None].to(cams.dtype)
    return cams / (cams.amax(dim=2, keepdim=True) + eps)


def cam_labels(cams: Tensor, beta: float = 0.5) -> Tensor:
    """Pixel (patch) labels of normalised CAMs (B, K, ...): 1 + argmax_c A_c if max_c A_c > beta, else 0 (a tie
    with beta is background). Used for the object-aware mask (E3, block-10 tokens) and for the CAMs."""
    peak, idx = cams.max(dim=1)
    return torch.where(peak > beta, idx + 1, torch.zeros_like(idx))


def lea_loss(patches: Tensor, mask: Tensor, text: Tensor, bg_text: Tensor, img_labels: Tensor, form: str = 'clamp',
             eps: float = 1e-4, temperature: float = 0.07, bg_push: str = 'sum', loss_form: str = 'log',
             softmax_temperature: float = 0.07, ignore_index: int = 255) -> Tensor:
    """E4, local explicit alignment (LEA) [reconstructed]: each patch token p_j (B, N, D) aligned with the text
    of its region in the object-aware mask M (B, N), k = M(j):

        k >= 1: l_j = - log s(p_j, t_k) - log(1 - s(p_j, t_bg))
        k = 0:  l_j = - log s(p_j, t_bg) - sum_{c present} log(1 - s(p_j, t_c))

    L_ex = mean of l_j over the non-ignored patches of the batch (0 if none). ``bg_push``: 'sum' (default),
    'mean' (over the present classes) or 'none' for the background patches' push from the classes.
    ``loss_form='softmax'``: cross-entropy over {t_bg} + the present classes with logits cos / T. Patches whose
    mask class is not among the image's labels are ignored.
    """
    B, N, _ = patches.shape
    y = img_labels.float()
    k = mask.long()
    valid = k != ignore_index
    fg = valid & (k > 0)
    cls = (k - 1).clamp(0, y.shape[1] - 1)
    valid = valid & (~fg | (y.gather(1, cls) > 0))  # a patch of an absent class is ignored
    fg = fg & valid
    cos = cosine(patches, text)                          # (B, N, K)
    cos_bg = cosine(patches, bg_text[None])[..., 0]      # (B, N)
    if loss_form == 'softmax':
        logits = torch.cat([cos_bg[..., None], cos], -1) / softmax_temperature
        logits = logits.masked_fill(torch.cat([y.new_ones(B, 1), y], 1)[:, None, :] == 0, float('-inf'))
        target = torch.where(fg, k, torch.zeros_like(k))
        nll = -logits.log_softmax(-1).gather(2, target[..., None])[..., 0]
        per_patch = torch.where(valid, nll, torch.zeros_like(nll))
    elif loss_form == 'log':
        s = alignment_similarity(cos, form, eps, temperature)
        s_bg = alignment_similarity(cos_bg, form, eps, temperature)
        own = s.gather(2, cls[..., None])[..., 0]
        l_fg = -own.log() - (1 - s_bg).log()
        push = -(y[:, None, :] * (1 - s).log()).sum(-1)
        if bg_push == 'mean':
            push = push / y.sum(1, keepdim=True).clamp_min(1)
        elif bg_push == 'none':
            push = torch.zeros_like(push)
        elif bg_push != 'sum':
            raise ValueError(f"bg_push must be 'sum', 'mean' or 'none', got {bg_push!r}")
        l_bg = -s_bg.log() + push
        per_patch = torch.where(fg, l_fg, torch.where(valid, l_bg, torch.zeros_like(l_bg)))
    else:
        raise ValueError(f"loss_form must be 'log' or 'softmax', got {loss_form!r}")
    return per_patch.sum() / valid.sum().clamp_min(1)


def region_means(patches: Tensor, mask: Tensor, num_classes: int, weights: Optional[Tensor] = None,
                 ignore_index: int = 255) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """E5 [reconstructed]: region features for Eq. 6 from raw patch tokens (B, N, D).

    Hard (default): f_c = mean of p_j over {M(j) = c + 1}, f_bg = mean over {M(j) = 0}. Soft (``weights``
    (B, K, N), normalised CAMs): f_c = sum_j A_c(j) p_j / sum_j A_c(j), f_bg weighted by 1 - max_c A_c(j).
    Returns f (B, K, D), has_f (B, K) bool, f_bg (B, D), has_bg (B,) bool.
    """
    valid = (mask != ignore_index).to(patches.dtype)  # (B, N)
    if weights is None:
        w = F.one_hot(mask.long().clamp(0, num_classes).masked_fill(mask == ignore_index, 0),
                      num_classes + 1).to(patches.dtype) * valid[..., None]   # (B, N, 1 + K)
        w = w.transpose(1, 2)                                                 # (B, 1 + K, N)
    else:
        w = torch.cat([1 - weights.amax(1, keepdim=True), weights], 1).clamp_min(0) * valid[:, None]
    total = w.sum(-1)                                                         # (B, 1 + K)
    feats = (w @ patches) / total.clamp_min(1e-6)[..., None]
    has = total > (0.5 if weights is None else 1e-6)
    return feats[:, 1:], has[:, 1:], feats[:, 0], has[:, 0]


def cross_contrastive_loss(f: Tensor, has_f: Tensor, f_bg: Tensor, has_bg: Tensor, text: Tensor, bg_text: Tensor,
                           img_labels: Tensor, tau: float = 1.0, bg_weight: float = 0.001,
                           directions: str = 'both', negatives: str = 'background') -> Tensor:
    """Eq. 6, cross-contrastive alignment [exists with tau and lambda: supplementary; form reconstructed].

    For every image and present class with a non-empty region (cosines / tau):
        i2t = - log softmax(f_c against {t_c, t_bg}) at t_c
        t2i = - log softmax(t_c against {f_c, f_bg}) at f_c   (f_bg of the same image; none: only the positive)
        bg  = - log softmax(f_bg against {t_bg} + {t_c present}) at t_bg, for images with a background region
    L_cc = mean over pairs of (i2t + t2i) / 2 + lambda * mean over images of bg.

    ``directions``: 'both' (default), 'i2t' or 't2i' (that one alone, not halved). ``negatives='classes'``: the
    image's other present classes are extra negatives in i2t (their texts) and t2i (their regions).
    """
    if directions not in ('both', 'i2t', 't2i'):
        raise ValueError(f"directions must be 'both', 'i2t' or 't2i', got {directions!r}")
    if negatives not in ('background', 'classes'):
        raise ValueError(f"negatives must be 'background' or 'classes', got {negatives!r}")
    y = img_labels > 0
    B, K = y.shape
    pair = y & has_f                                              # (B, K)
    ft = cosine(f, text) / tau                                    # (B, K, K): region c vs text c'
    fb = cosine(f, bg_text[None])[..., 0] / tau                   # (B, K): region c vs t_bg
    tb = (F.normalize(f_bg, dim=-1) @ F.normalize(text, dim=-1).t()) / tau  # (B, K): f_bg vs text c
    pos = ft.diagonal(dim1=1, dim2=2)                             # (B, K)
    neg_inf = torch.full_like(pos, float('-inf'))
    # i2t: region c against its text, the background text (and the other present classes' texts)
    i2t_logits = [pos[..., None], fb[..., None]]
    # t2i: text c against its region, the image's background region (and the other present classes' regions)
    t2i_logits = [pos[..., None], torch.where(has_bg[:, None], tb, neg_inf)[..., None]]
    if negatives == 'classes':
        not_self = ~torch.eye(K, dtype=torch.bool, device=y.device)[None]
        i2t_logits.append(ft.masked_fill(~(y[:, None, :] & not_self), float('-inf')))         # texts c' != c
        t2i_logits.append(ft.transpose(1, 2).masked_fill(~(pair[:, None, :] & not_self), float('-inf')))  # regions
    i2t = -torch.cat(i2t_logits, -1).log_softmax(-1)[..., 0]
    t2i = -torch.cat(t2i_logits, -1).log_softmax(-1)[..., 0]
    per_pair = {'both': (i2t + t2i) / 2, 'i2t': i2t, 't2i': t2i}[directions]
    per_pair = torch.where(pair, per_pair, torch.zeros_like(per_pair))
    loss = per_pair.sum() / pair.sum().clamp_min(1)
    bb = (F.normalize(f_bg, dim=-1) * F.normalize(bg_text, dim=-1)[None]).sum(-1, keepdim=True) / tau  # (B, 1)
    bg_logits = torch.cat([bb, tb.masked_fill(~y, float('-inf'))], -1)
    bg = -bg_logits.log_softmax(-1)[:, 0]
    bg = torch.where(has_bg, bg, torch.zeros_like(bg))
    return loss + bg_weight * bg.sum() / has_bg.sum().clamp_min(1)
