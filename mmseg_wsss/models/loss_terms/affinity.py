from typing import Dict, Tuple

import torch
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from ..losses.affinity import affinity_labels, affinity_loss


@MODELS.register_module()
class AffinityFromAttentionLoss(nn.Module):
    """AFA's affinity from attention (Ru et al., CVPR 2022, Sec. 3.2) as a loss term.

    The backbone's raw attention logits (``ctx.extras['attn_logits']``, (B, M, N, N), from
    ``MixVisionTransformerWithAttn``) are symmetrised (A + A^T), a 1x1 convolution M -> 1 and a sigmoid give the
    predicted affinity (B, N, N) (Eq. 2's A_hat; computed once per batch, :meth:`predict`, also read by
    ``CAMPseudoLabel(affinity_term=...)``). Its target comes from the term's pseudo labels (Eq. 3,
    :func:`affinity_labels`, radius ``radius``); the loss is the balanced form (:func:`affinity_loss`). With
    several label sources (ECA's official code: the CARM and the CAM labels) the losses are averaged.

    The convolution is this term's parameter (the official code's ``attn_proj``: bias, Kaiming-normal a=sqrt(5),
    fan-out); optimiser configs reach it as ``loss_terms.<name>.proj``.
    """

    def __init__(self, in_channels: int = 16, radius: int = 8, ignore_index: int = 255):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, 1, kernel_size=1, bias=True)
        nn.init.kaiming_normal_(self.proj.weight, a=5 ** 0.5, mode='fan_out')
        self.radius, self.ignore_index = radius, ignore_index

    def grid(self, ctx) -> Tuple[int, int]:
        return tuple(ctx.extras['attn_hw'])

    def predict(self, ctx) -> Tensor:
        """(B, N, N) predicted affinity, sigmoid(conv(A + A^T)), once per batch (with gradient)."""
        key = f'affinity/{id(self)}'
        if key not in ctx.cache:
            if 'attn_logits' not in ctx.extras:
                raise ValueError('AffinityFromAttentionLoss needs a backbone exposing attention logits '
                                 '(e.g. MixVisionTransformerWithAttn)')
            attn = ctx.extras['attn_logits']
            ctx.cache[key] = self.proj(attn + attn.transpose(-2, -1)).sigmoid()[:, 0]
        return ctx.cache[key]

    def forward(self, ctx, labels=None) -> Dict[str, Tensor]:
        if labels is None:
            raise ValueError('AffinityFromAttentionLoss needs `labels=<pseudo-label source(s)>` in its term config')
        pred = self.predict(ctx)
        sources = labels if isinstance(labels, (list, tuple)) else [labels]
        losses = [affinity_loss(pred, affinity_labels(lab, self.grid(ctx), self.radius, self.ignore_index),
                                self.ignore_index) for lab in sources]
        return dict(loss=torch.stack(losses).mean())
