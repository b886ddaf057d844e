"""CLIMS losses (Xie et al., CVPR 2022), one function per equation.

Similarities ``s`` are cosine similarities between CLIP image and text embeddings (Eqs. 7, 9, 11). Each loss
takes the similarities of the image's *present* classes only (the y_k factor of Eqs. 6, 8, 10) together with
the batch index of each, sums over classes per image as the equations do, and averages over the batch.

``variant='code'`` gives the official code's forms (current version, see configs/clims/README.md): OTM and BTM
clamp s to [1e-4, 1 - 1e-4] and average over (image, class) pairs; CBS is a plain sum over every present pair
and every background prompt of the whole batch, counting only prompts whose similarity exceeds a threshold
(0.26 VOC, 0.285 COCO), without clamping or batch averaging.
"""
import torch
from torch import Tensor

EPS = 1e-6  # keeps log() finite for s <= 0 or s >= 1; cosine similarities of CLIP are ~0.1-0.4 in practice


def _per_image_mean(per_pair: Tensor, batch_idx: Tensor, batch_size: int) -> Tensor:
    """Sum the per-(image, class) terms of each image, then average over the ``batch_size`` images."""
    return per_pair.new_zeros(batch_size).index_add(0, batch_idx, per_pair).mean()


def otm_loss(s_oo: Tensor, batch_idx: Tensor, batch_size: int, variant: str = 'paper') -> Tensor:
    """Object region and Text label Matching, CLIMS Eq. 6: ``-sum_k y_k log(s^oo_k)``."""
    if variant == 'code':
        return -torch.log(s_oo.clamp(1e-4, 1 - 1e-4)).mean()
    return _per_image_mean(-torch.log(s_oo.clamp_min(EPS)), batch_idx, batch_size)


def btm_loss(s_bo: Tensor, batch_idx: Tensor, batch_size: int, variant: str = 'paper') -> Tensor:
    """Background region and Text label Matching, CLIMS Eq. 8: ``-sum_k y_k log(1 - s^bo_k)``."""
    if variant == 'code':
        return -torch.log(1 - s_bo.clamp(1e-4, 1 - 1e-4)).mean()
    return _per_image_mean(-torch.log((1 - s_bo).clamp_min(EPS)), batch_idx, batch_size)


def cbs_loss(s_ob: Tensor, owner_mask: Tensor, batch_idx: Tensor, batch_size: int, variant: str = 'paper',
             thr: float = 0.26) -> Tensor:
    """Co-occurring Background Suppression, CLIMS Eq. 10: ``-sum_k sum_l y_k log(1 - s^ob_{k,l})``.

    ``s_ob`` (N, L): similarity of each present pair's object region to every background prompt;
    ``owner_mask`` (N, L): prompt l belongs to the pair's class k (the l in Eq. 10 runs over class k's set; a
    shared list belongs to every class). The code form sums ``-log(1 - s) [s > thr]`` over all pairs and prompts
    of the batch (no clamp, no averaging: it grows with the batch).
    """
    if variant == 'code':
        return (-torch.log(1 - s_ob) * owner_mask * (s_ob > thr)).sum()
    terms = -torch.log((1 - s_ob).clamp_min(EPS)) * owner_mask
    return _per_image_mean(terms.sum(1), batch_idx, batch_size)


def reg_loss(cams: Tensor) -> Tensor:
    """Area regularisation, CLIMS Eq. 12: ``1/K sum_k S_k``, ``S_k = 1/(HW) sum P_k(h, w)`` over all K classes,
    averaged over the batch."""
    return cams.mean(dim=(2, 3)).mean(dim=1).mean()
