"""DINO ViT teachers: timm's VisionTransformer, loaded from a local DINO checkpoint.

The real teacher is DINO ViT-S/8 (``dino_deitsmall8_pretrain.pth`` from the DINO release, keys identical to timm's
``vit_small_patch8_224``); ``toy-dino`` is the same class with tiny dimensions, trained here on the toy corpus by
``tools/toy_teachers/build_toy_teachers.py``. Both go through :func:`build_dino_vit`.
"""
import os.path as osp
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
}
DINO_URL = 'https://dl.fbaipublicfiles.com/dino/dino_deitsmall8_pretrain/dino_deitsmall8_pretrain.pth'
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
            what = (f'download {DINO_URL}' if arch == 'vit-s8' else 'run `make toy-teachers`')
            raise FileNotFoundError(f'DINO weights not found at {checkpoint}: {what} and put the file there')
        sd = dino_state_dict(torch.load(checkpoint, map_location='cpu', weights_only=True))
        model.load_state_dict(sd, strict=True)
    return model


def last_block_qkv(vit, x: Tensor) -> Dict[str, Tensor]:
    """Run ``vit`` on normalised images up to its last block's attention input and return that block's
    ``q``, ``k``, ``v`` as (B, 1 + N, C) with the heads concatenated (ECA uses the patch keys and the class-token
    query), plus the patch ``grid``."""
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
        arch: a key of ``DINO_ARCHS`` ('vit-s8' for ECA, 'toy-dino' for the toy set).
        checkpoint: local weights (``dino_deitsmall8_pretrain.pth`` or data/toy_teachers/toy_dino.pth).
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
        return dict(keys=F.normalize(out['k'][:, 1:].float(), dim=-1),
                    cls_query=F.normalize(out['q'][:, 0].float(), dim=-1), grid=out['grid'])
