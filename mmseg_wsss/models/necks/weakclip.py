"""WeakCLIP's trainable parts between the frozen CLIP towers and the decoder (Zhu et al., IJCV, Sec. 3.3):
the pyramid adapter (Sec. 3.3.2), co-attention matching (Sec. 3.3.3, Eqs. 7-9) and the text-guided neck that
concatenates the matched score map to every pyramid level before mmseg's FPN (Sec. 3.3.4, Eq. 10)."""
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.models.necks import Feature2Pyramid
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class CLIPPyramidAdapter(Feature2Pyramid):
    """Pyramid adapter (WeakCLIP Sec. 3.3.2, Fig. 3): mmseg's ``Feature2Pyramid`` (2 transposed convolutions with
    BN + GELU for 1/4, one for 1/8, identity for 1/16, max-pooling for 1/32) with a ``GroupNorm(1, C)`` in front
    of each level, as in the official code. The ViT block outputs it receives are the raw residual stream, whose
    scale differs from block to block; the GroupNorms put them on one scale. It trains (the official code's
    ``lr_mult=0`` on ``backbone.*`` freezes it by accident: see configs/weakclip/README.md)."""

    def __init__(self, embed_dim: int = 768, rescales=(4, 2, 1, 0.5), norm_cfg=dict(type='SyncBN',
                                                                                     requires_grad=True)):
        super().__init__(embed_dim, rescales=list(rescales), norm_cfg=norm_cfg)
        self.pre_norms = nn.ModuleList(nn.GroupNorm(1, embed_dim) for _ in rescales)

    def forward(self, inputs):
        # contiguous: on torch 2.12 (CPU) GroupNorm's backward segfaults for a non-contiguous input that needs no
        # gradient, which is what a frozen ViT's (B, N, C) -> (B, C, h, w) token maps are (measured here)
        return super().forward([norm(x.contiguous()) for norm, x in zip(self.pre_norms, inputs)])


class _Attention(nn.Module):
    """Multi-head attention with bias-free q / k / v projections (the official code's ``qkv_bias=False``)."""

    def __init__(self, dim: int, num_heads: int, dropout: float):
        super().__init__()
        self.num_heads = num_heads
        self.q_proj = nn.Linear(dim, dim, bias=False)
        self.k_proj = nn.Linear(dim, dim, bias=False)
        self.v_proj = nn.Linear(dim, dim, bias=False)
        self.attn_drop = nn.Dropout(dropout)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(dropout)

    def forward(self, q: Tensor, kv: Tensor) -> Tensor:
        B, N, C = q.shape
        h = self.num_heads

        def split(x):
            return x.reshape(B, -1, h, C // h).transpose(1, 2)

        q, k, v = split(self.q_proj(q)), split(self.k_proj(kv)), split(self.v_proj(kv))
        # softmax(q k^T / sqrt(d)) v with dropout on the attention weights, as the official code's loop
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop.p if self.training else 0.0)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(B, N, C)))


class CoAttentionLayer(nn.Module):
    """A pre-norm transformer decoder layer (DenseCLIP's context decoder layer): self-attention over the
    queries, cross-attention to the memory, MLP (x4, GELU); dropout 0.1; residual after each."""

    def __init__(self, dim: int = 256, num_heads: int = 4, mlp_ratio: int = 4, dropout: float = 0.1):
        super().__init__()
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.self_attn = _Attention(dim, num_heads, dropout)
        self.cross_attn = _Attention(dim, num_heads, dropout)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * mlp_ratio), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(dim * mlp_ratio, dim))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mem: Tensor) -> Tensor:
        y = self.norm1(x)
        x = x + self.self_attn(y, y)
        x = x + self.cross_attn(self.norm2(x), mem)
        return x + self.dropout(self.mlp(self.norm3(x)))


class CrossAttentionStack(nn.Module):
    """``CrossAttn(queries, memory)`` of WeakCLIP Eqs. 7-8: queries and memory projected to ``width`` (queries:
    LN -> Linear; memory: LN -> Linear -> LN), ``num_layers`` :class:`CoAttentionLayer` s, LN -> Linear back to
    ``embed_dim``.

    ``chained=True`` feeds each layer the previous layer's output (DenseCLIP); ``False`` is the official WeakCLIP
    code: every layer reads the projected input and only the last layer's output counts.
    """

    def __init__(self, embed_dim: int = 512, width: int = 256, num_layers: int = 3, num_heads: int = 4,
                 dropout: float = 0.1, chained: bool = True):
        super().__init__()
        self.query_proj = nn.Sequential(nn.LayerNorm(embed_dim), nn.Linear(embed_dim, width))
        self.memory_proj = nn.Sequential(nn.LayerNorm(embed_dim), nn.Linear(embed_dim, width), nn.LayerNorm(width))
        self.layers = nn.ModuleList(CoAttentionLayer(width, num_heads, 4, dropout) for _ in range(num_layers))
        self.out_proj = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, embed_dim))
        self.chained = chained

    def forward(self, queries: Tensor, memory: Tensor) -> Tensor:
        q0, mem = self.query_proj(queries), self.memory_proj(memory)
        x = q0
        for layer in self.layers:
            x = layer(x if self.chained else q0, mem)
        return self.out_proj(x)


def co_attention_update(emb: Tensor, delta: Tensor, scale: Tensor) -> Tensor:
    """WeakCLIP Eqs. 7 / 8: ``t* = CrossAttn(t, f) * alpha + t`` (and ``f* = CrossAttn(f, t) * beta + f``), with a
    learnable per-channel ``scale`` (the paper's "temperature")."""
    return emb + scale * delta


def match_scores(text: Tensor, patches: Tensor, grid: Tuple[int, int]) -> Tensor:
    """WeakCLIP Eq. 9: ``lambda' = Match(t*, f*)``, the cosine similarity of every (updated) patch embedding to
    every (updated) class embedding: text (B, K, D), patches (B, h*w, D) -> (B, K, h, w)."""
    s = torch.einsum('bkd,bnd->bkn', F.normalize(text, dim=-1), F.normalize(patches, dim=-1))
    return s.reshape(*s.shape[:2], *grid)


@MODELS.register_module()
class CoAttentionMatcher(BaseModule):
    """Co-attention matching (WeakCLIP Sec. 3.3.3, Eqs. 7-9).

    Text-to-pixel: the class embeddings t (K, D) attend to the visual embeddings [global token; patches] (1 +
    h*w, D); pixel-to-text: the visual embeddings attend to the class embeddings. Each direction is a
    :class:`CrossAttentionStack` (3 layers, width 256, 4 heads); the updates are scaled by learnable per-channel
    vectors alpha and beta initialised to ``scale_init`` (0.1, the paper's best in Table 8). The score map is the
    cosine of the updated embeddings (Eq. 9), (B, K, h, w), no temperature.

    ``shared_proj=False`` (default; the paper's Eqs. 7-8 name two independent ``CrossAttn``): each direction has
    its own input projections. ``True`` is the official code: ONE text projection (LN-Linear) and ONE visual
    projection (LN-Linear-LN) serve both directions, the visual one as the query side in pixel-to-text
    (``pixel_to_text.query_proj`` is ``text_to_pixel.memory_proj`` and ``pixel_to_text.memory_proj`` is
    ``text_to_pixel.query_proj``); needed to load the official checkpoint.
    """

    def __init__(self, embed_dim: int = 512, width: int = 256, num_layers: int = 3, num_heads: int = 4,
                 dropout: float = 0.1, chained: bool = True, scale_init: float = 0.1, shared_proj: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.text_to_pixel = CrossAttentionStack(embed_dim, width, num_layers, num_heads, dropout, chained)
        self.pixel_to_text = CrossAttentionStack(embed_dim, width, num_layers, num_heads, dropout, chained)
        self.shared_proj = shared_proj
        if shared_proj:
            self.pixel_to_text.query_proj = self.text_to_pixel.memory_proj
            self.pixel_to_text.memory_proj = self.text_to_pixel.query_proj
        self.alpha = nn.Parameter(torch.full((embed_dim, ), float(scale_init)))
        self.beta = nn.Parameter(torch.full((embed_dim, ), float(scale_init)))

    def forward(self, text: Tensor, global_token: Tensor, patches: Tensor,
                grid: Tuple[int, int]) -> Dict[str, Tensor]:
        """text (K, D) or (B, K, D); global_token (B, D); patches (B, h*w, D) -> ``score_map`` (B, K, h, w) and
        the updated ``text`` (B, K, D) and ``patches`` (B, h*w, D)."""
        B = patches.shape[0]
        if text.dim() == 2:
            text = text[None].expand(B, -1, -1)
        visual = torch.cat([global_token[:, None], patches], dim=1)
        t = co_attention_update(text, self.text_to_pixel(text, visual), self.alpha)
        v = co_attention_update(visual, self.pixel_to_text(visual, text), self.beta)[:, 1:]
        return dict(score_map=match_scores(t, v, grid), text=t, patches=v)


@MODELS.register_module()
class TextGuidedNeck(BaseModule):
    """WeakCLIP's neck: pyramid adapter + co-attention matching + the first half of the text-guided decoder
    (Sec. 3.3.4, Eq. 10; Fig. 5): the score map, bilinearly resized (``align_corners=True``, as the code) to
    every pyramid level, is concatenated to that level; mmseg's FPN fuses the levels for the decode head
    (mmseg's FPNHead: the other half of the decoder).

    Inputs: the backbone's block features (those of ``in_index``, default all); ``extras`` of an
    ``OpenCLIPImageEncoder`` backbone (``cls``: the projected global token, ``patches``: projected patch
    embeddings, ``grid``); the text encoder's output (``class_embeddings`` (K, D), one per segmentation class,
    background included). Returns the FPN levels and ``dict(score_map=...)``, which the segmentor adds to
    ``ctx.extras``; parts read it as the declared map ``'score_map'`` (kind cosine_bg: the auxiliary
    :class:`ScoreMapLoss`, CARM seeds, CAM pseudo labels).
    """
    accepts_text = True
    uses_extras = True
    map_outputs = dict(score_map='cosine_bg')  # maps other parts may read (mmseg_wsss.models.maps)

    def __init__(self, adapter: dict, matcher: dict, fpn: dict, text_key: str = 'class_embeddings',
                 in_index: Optional[Sequence[int]] = None, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.adapter = MODELS.build(adapter)
        self.matcher = MODELS.build(matcher)
        self.fpn = MODELS.build(fpn)
        self.text_key = text_key
        self.in_index = None if in_index is None else tuple(in_index)  # the backbone maps of the pyramid (all)

    def forward(self, inputs, extras: Optional[dict] = None):
        feats, text = inputs
        if not extras or 'patches' not in extras:
            raise ValueError('TextGuidedNeck needs the backbone\'s projected tokens (extras `cls`, `patches`, '
                             '`grid`): use a ViT OpenCLIPImageEncoder backbone')
        feats = list(feats) if self.in_index is None else [feats[i] for i in self.in_index]
        n_levels = len(self.adapter.pre_norms)
        if len(feats) != n_levels:
            raise ValueError(f'TextGuidedNeck: the adapter makes {n_levels} pyramid levels but receives {len(feats)} '
                             'backbone maps: pick them with in_index (e.g. when the backbone also gives '
                             'proj_indices maps for a CAM head)')
        pyramid = self.adapter(feats)
        matched = self.matcher(text[self.text_key], extras['cls'], extras['patches'], extras['grid'])
        score = matched['score_map']
        levels = [torch.cat([p, F.interpolate(score.to(p.dtype), size=p.shape[-2:], mode='bilinear',
                                              align_corners=True)], dim=1) for p in pyramid]
        return tuple(self.fpn(levels)), dict(score_map=score)
