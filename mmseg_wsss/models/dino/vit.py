"""DINO ViT teachers: timm's VisionTransformer, loaded from a local DINO or DINOv2 checkpoint.

ECA's teacher is DINO ViT-S/8 (``dino_deitsmall8_pretrain.pth`` from the DINO release, keys identical to timm's
``vit_small_patch8_224``); ``toy-dino`` is the same class with tiny dimensions, trained here on the toy corpus by
``tools/toy_teachers/build_toy_teachers.py``. DINOv2 (Oquab et al., 2023) ViT-S/14 and ViT-B/14, with and without
registers (Darcet et al., 2024), load from the official release files (``dinov2_vits14_pretrain.pth``,
``dinov2_vitb14_reg4_pretrain.pth``, ...) into timm's layout of the same models (LayerScale, 518-px position table;
with registers, timm's ``no_embed_class`` form: the class token absorbs its position embedding and the registers
take none, exactly the official forward). All go through :func:`build_dino_vit`.
"""
import os.path as osp
import re
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

DINO_ARCHS: Dict[str, dict] = {
    # DINO ViT-S/8 (ECA): 384-d, 12 blocks, 6 heads, patch 8, trained at 224 (28 x 28 + 1 position embeddings)
    'vit-s8': dict(img_size=224, patch_size=8, embed_dim=384, depth=12, num_heads=6),
    # the toy stand-in: same class and head count, tiny width and depth, trained at 64 px
    'toy-dino': dict(img_size=64, patch_size=8, embed_dim=96, depth=4, num_heads=6),
    # DINOv2 (the official hub backbones: 518 px, patch 14, LayerScale, MLP FFN), with 4 registers or none
    'dinov2-vits14': dict(img_size=518, patch_size=14, embed_dim=384, depth=12, num_heads=6, init_values=1e-5),
    'dinov2-vitb14': dict(img_size=518, patch_size=14, embed_dim=768, depth=12, num_heads=12, init_values=1e-5),
    'dinov2-vits14-reg4': dict(img_size=518, patch_size=14, embed_dim=384, depth=12, num_heads=6, init_values=1e-5,
                               reg_tokens=4, no_embed_class=True),
    'dinov2-vitb14-reg4': dict(img_size=518, patch_size=14, embed_dim=768, depth=12, num_heads=12,
                               init_values=1e-5, reg_tokens=4, no_embed_class=True),
}
DINO_URL = 'https://dl.fbaipublicfiles.com/dino/dino_deitsmall8_pretrain/dino_deitsmall8_pretrain.pth'
DINOV2_URL = 'https://dl.fbaipublicfiles.com/dinov2/dinov2_vit{size}14/dinov2_vit{size}14{reg}_pretrain.pth'


def weights_url(arch: str) -> Optional[str]:
    """Where the official weights of ``arch`` are published (None for the toy teacher)."""
    if arch == 'vit-s8':
        return DINO_URL
    m = re.fullmatch(r'dinov2-vit([sb])14(-reg4)?', arch)
    return DINOV2_URL.format(size=m[1], reg='_reg4' if m[2] else '') if m else None


def dinov2_to_timm(sd: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """An official DINOv2 state dict in timm's names: ``mask_token`` (training only) dropped, chunked blocks
    (``blocks.<chunk>.<i>.``) flattened, and with registers ``register_tokens`` -> ``reg_token`` and the class
    token's position embedding added to the class token (timm's ``no_embed_class`` layout; the official forward
    adds it to the class token the same way and gives the registers none)."""
    sd = {re.sub(r'^blocks\.\d+\.(\d+)\.', r'blocks.\1.', k): v for k, v in sd.items() if k != 'mask_token'}
    if 'register_tokens' in sd:
        sd['reg_token'] = sd.pop('register_tokens')
        sd['cls_token'] = sd['cls_token'] + sd['pos_embed'][:, :1]
        sd['pos_embed'] = sd['pos_embed'][:, 1:]
    return sd
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def dino_state_dict(obj: dict) -> Dict[str, Tensor]:
    """The backbone weights of a DINO file: a plain state dict, or a full training checkpoint (``teacher`` preferred
    over ``student``; ``model`` / ``state_dict`` wrappers); ``module.`` and ``backbone.`` prefixes stripped and the
    projection head (``head.*``) dropped."""
    for key in ('teacher', 'student', 'model', 'state_dict'):
        if isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    out = {}
    for k, v in obj.items():
        for prefix in ('module.', 'backbone.'):
            if k.startswith(prefix):
                k = k[len(prefix):]
        if not k.startswith('head.'):
            out[k] = v
    if 'mask_token' in out or 'register_tokens' in out:  # the DINOv2 release's layout
        out = dinov2_to_timm(out)
    return out


def build_dino_vit(arch: str = 'vit-s8', checkpoint: Optional[str] = None, **kwargs):
    """timm ``VisionTransformer`` of ``arch`` (``DINO_ARCHS``) with dynamic input size and no classifier; with
    ``checkpoint`` its weights are loaded strictly from that local file (a missing file fails with the one line
    saying what to fetch and where to put it)."""
    from timm.models.vision_transformer import VisionTransformer
    if arch not in DINO_ARCHS:
        raise KeyError(f'unknown DINO arch {arch!r}; known: {sorted(DINO_ARCHS)}')
    model = VisionTransformer(num_classes=0, dynamic_img_size=True, **{**DINO_ARCHS[arch], **kwargs})
    if checkpoint is not None:
        if not osp.isfile(checkpoint):
            url = weights_url(arch)
            what = f'download {url}' if url else 'run `make toy-teachers`'
            raise FileNotFoundError(f'DINO weights not found at {checkpoint}: {what} and put the file there')
        sd = dino_state_dict(torch.load(checkpoint, map_location='cpu', weights_only=True))
        model.load_state_dict(sd, strict=True)
    return model


def last_block_qkv(vit, x: Tensor) -> Dict[str, Tensor]:
    """Run ``vit`` on normalised images up to its last block's attention input and return that block's
    ``q``, ``k``, ``v`` as (B, P + N, C) with the heads concatenated, P = ``vit.num_prefix_tokens`` (the class
    token first, then any registers; ECA uses the patch keys and the class-token query), plus the patch
    ``grid``."""
    x = vit.patch_embed(x)
    grid = x.shape[1:3]
    x = vit._pos_embed(x)
    x = vit.norm_pre(x)
    for blk in vit.blocks[:-1]:
        x = blk(x)
    last = vit.blocks[-1]
    qkv = last.attn.qkv(last.norm1(x))
    q, k, v = qkv.chunk(3, dim=-1)
    return dict(q=q, k=k, v=v, grid=tuple(grid))


@MODELS.register_module()
class DINOViTEncoder(BaseModule):
    """A frozen DINO ViT as a shared encoder (``WSSSSegmentor(encoders=dict(dino=dict(type='DINOViTEncoder',
    ...)))``). :meth:`encode_batch` takes RGB images in [0, 1] (``ctx.images``), normalises them with ImageNet's
    statistics (DINO's) and returns the last block's L2-normalised patch ``keys`` (B, N, C), the L2-normalised
    class-token ``cls_query`` (B, C) and the patch ``grid``.

    Args:
        arch: a key of ``DINO_ARCHS`` ('vit-s8' for ECA, 'toy-dino' for the toy set, 'dinov2-vits14',
            'dinov2-vitb14', 'dinov2-vits14-reg4', 'dinov2-vitb14-reg4').
        checkpoint: local weights (``dino_deitsmall8_pretrain.pth``, data/toy_teachers/toy_dino.pth, or an official
            DINOv2 release file such as ``dinov2_vitb14_reg4_pretrain.pth``).
        fp16: run under CUDA autocast in fp16 (ECA's code runs DINO in half precision); no effect on CPU.
    """
    weights_at_build = True  # loaded from `checkpoint` when built (checkpoint rule)

    def __init__(self, arch: str = 'vit-s8', checkpoint: Optional[str] = None, fp16: bool = True, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.fp16 = fp16
        self.vit = build_dino_vit(arch, checkpoint)
        self.register_buffer('mean', torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def init_weights(self):
        pass  # the weights come from the checkpoint (or stay random for mechanics tests), never re-initialised

    def encode_batch(self, images: Tensor) -> Dict[str, Tensor]:
        """Keys and class-token query of RGB images in [0, 1]; in fp16 on CUDA (``fp16``, as ECA's code), fp32
        on CPU (returned as fp32 either way)."""
        x = (images - self.mean) / self.std
        with torch.autocast('cuda', dtype=torch.float16, enabled=self.fp16 and x.is_cuda):
            out = last_block_qkv(self.vit, x)
        p = self.vit.num_prefix_tokens  # the class token, then DINOv2's registers if any
        return dict(keys=F.normalize(out['k'][:, p:].float(), dim=-1),
                    cls_query=F.normalize(out['q'][:, 0].float(), dim=-1), grid=out['grid'])
