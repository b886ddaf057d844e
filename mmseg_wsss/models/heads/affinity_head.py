from typing import Dict, Tuple

import torch.nn as nn
from mmengine.model import BaseModule
from mmseg.registry import MODELS


@MODELS.register_module()
class AttentionAffinityHead(BaseModule):
    """AFA's affinity from attention (Ru et al., CVPR 2022, Sec. 3.2, Eq. 2's A_hat) as a part of the network.

    The backbone's raw attention logits (extras ``attn_logits``, (B, M, N, N), from
    ``MixVisionTransformerWithAttn``) are symmetrised (A + A^T); a 1x1 convolution M -> 1 and a sigmoid give the
    predicted affinity (B, N, N) on the attention grid (extras ``attn_hw``). The segmentor runs it once per batch
    (``heads=dict(affinity=dict(type='AttentionAffinityHead', ...))``) and puts ``affinity`` and ``grid`` in
    ``ctx.head_outputs[name]``; ``AffinityFromAttentionLoss`` supervises it and ``CAMPseudoLabel(affinity=name)``
    propagates CAMs along it (Eq. 8).

    The convolution is the official code's ``attn_proj`` (bias, Kaiming-normal a=sqrt(5), fan-out); optimiser
    configs reach it as ``heads.<name>`` (AFA: lr x10).

    Args:
        in_channels (int): attention maps M of the backbone's attention stage (heads x layers).
    """

    def __init__(self, in_channels: int = 16, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.proj = nn.Conv2d(in_channels, 1, kernel_size=1, bias=True)
        nn.init.kaiming_normal_(self.proj.weight, a=5 ** 0.5, mode='fan_out')

    def init_weights(self):
        pass  # initialised in __init__ as the official code does; mmengine's init must not redo it

    def forward(self, feats, extras: Dict[str, object]) -> Dict[str, object]:
        if 'attn_logits' not in extras:
            raise ValueError('AttentionAffinityHead needs a backbone exposing attention logits (extras '
                             '`attn_logits`, e.g. MixVisionTransformerWithAttn)')
        attn = extras['attn_logits']
        if attn.shape[1] != self.in_channels:
            raise ValueError(f'AttentionAffinityHead(in_channels={self.in_channels}) got {attn.shape[1]} '
                             'attention maps from the backbone')
        grid: Tuple[int, int] = tuple(extras['attn_hw'])
        return dict(affinity=self.proj(attn + attn.transpose(-2, -1)).sigmoid()[:, 0], grid=grid)
