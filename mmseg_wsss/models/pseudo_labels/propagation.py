"""Propagation of class scores along a predicted affinity (AFA, Ru et al., CVPR 2022, Eq. 8): how AFA's
pseudo labels use the affinity that :class:`AffinityFromAttentionLoss` trains."""
import torch
from torch import Tensor


def propagate_with_affinity(probs: Tensor, affinity: Tensor, radius_mask_: Tensor, power: int = 2,
                            eps: float = 0.1) -> Tensor:
    """Random-walk propagation of per-position scores along a predicted affinity (AFA Eq. 8, code form):
    affinity (B, N, N) masked to the radius, raised to ``power`` element-wise, each column divided by its sum
    + ``eps``; probs (B, C, h, w) -> probs @ affinity (each position takes the affinity-weighted mean)."""
    B, C, h, w = probs.shape
    a = (affinity * radius_mask_.to(affinity.dtype)) ** power
    a = a / (a.sum(dim=1, keepdim=True) + eps)
    return torch.bmm(probs.flatten(2), a).view(B, C, h, w)
