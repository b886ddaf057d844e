"""MiT (SegFormer's Mix Transformer) that also exposes the raw attention logits of one stage (AFA, ECA)."""
from typing import Dict, List, Tuple

import torch
from mmseg.models.backbones import MixVisionTransformer
from mmseg.models.utils import nlc_to_nchw
from mmseg.registry import MODELS
from torch import Tensor


def attention_logits(block, x: Tensor) -> Tensor:
    """Raw (unscaled) attention logits ``q k^T`` of one mmseg ``TransformerEncoderLayer`` on its input tokens
    ``x`` (B, N, C), per head: (B, heads, N, N). Only for blocks without spatial reduction (AFA's stage 4)."""
    attn = block.attn
    if attn.sr_ratio > 1:
        raise ValueError('attention logits are exposed only for stages with sr_ratio 1 (keys at every token)')
    mha = attn.attn  # torch.nn.MultiheadAttention
    C, heads = mha.embed_dim, mha.num_heads
    x = block.norm1(x)
    w_q, w_k = mha.in_proj_weight[:C], mha.in_proj_weight[C:2 * C]
    b_q, b_k = (mha.in_proj_bias[:C], mha.in_proj_bias[C:2 * C]) if mha.in_proj_bias is not None else (None, None)
    q = torch.nn.functional.linear(x, w_q, b_q)
    k = torch.nn.functional.linear(x, w_k, b_k)
    B, N, _ = x.shape
    q = q.view(B, N, heads, C // heads).transpose(1, 2)
    k = k.view(B, N, heads, C // heads).transpose(1, 2)
    return q @ k.transpose(-2, -1)


@MODELS.register_module()
class MixVisionTransformerWithAttn(MixVisionTransformer):
    """mmseg's ``MixVisionTransformer`` (MiT-B1 for AFA / ECA), unchanged, plus :meth:`forward_with_extras`, which
    also returns the raw attention logits ``q k^T`` of every block of stage ``attn_stage``, concatenated over
    blocks and heads: ``extras['attn_logits']`` (B, blocks x heads, N, N), N = that stage's h x w (AFA: both
    stage-4 blocks x 8 heads = 16 maps at stride 16), and ``extras['attn_hw']``.

    ImageNet-1k weights load through mmseg's usual ``init_cfg=dict(type='Pretrained', checkpoint=...)``.
    """

    def __init__(self, attn_stage: int = -1, **kwargs):
        super().__init__(**kwargs)
        self.attn_stage = attn_stage % self.num_stages

    def forward_with_extras(self, x: Tensor) -> Tuple[List[Tensor], Dict[str, Tensor]]:
        outs, logits, hw = [], [], None
        for i, layer in enumerate(self.layers):
            x, hw_shape = layer[0](x)
            for block in layer[1]:
                if i == self.attn_stage:
                    logits.append(attention_logits(block, x))
                    hw = tuple(hw_shape)
                x = block(x, hw_shape)
            x = layer[2](x)
            x = nlc_to_nchw(x, hw_shape)
            if i in self.out_indices:
                outs.append(x)
        return outs, dict(attn_logits=torch.cat(logits, dim=1), attn_hw=hw)
