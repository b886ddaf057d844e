from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from open_clip.modified_resnet import ModifiedResNet
from torch import Tensor

from .openclip import build_open_clip


def interpolate_pos_embed(pos: Tensor, grid: Tuple[int, int], new_grid: Tuple[int, int],
                          mode: str = 'bicubic') -> Tensor:
    """Resize a ViT position embedding (1 + gh*gw, C) to a new patch grid (``mode``: 'bicubic' or 'bilinear');
    unchanged if equal."""
    if tuple(grid) == tuple(new_grid):
        return pos
    cls, patch = pos[:1], pos[1:]
    patch = patch.reshape(1, grid[0], grid[1], -1).permute(0, 3, 1, 2)
    patch = F.interpolate(patch.float(), size=new_grid, mode=mode, align_corners=False).to(pos.dtype)
    return torch.cat([cls, patch.permute(0, 2, 3, 1).reshape(-1, pos.shape[1])])


@MODELS.register_module()
class OpenCLIPImageEncoder(BaseModule):
    """Frozen open_clip image tower, usable two ways.

    * Evaluator (CLIMS): :meth:`encode` takes RGB images in [0, 1] of any size, resizes them to the tower's input
      size, normalises with CLIP's statistics and returns L2-normalised embeddings. It is not run under no_grad,
      so gradients flow to the *input* (the CAMs that masked it); the tower's parameters never train.
    * Backbone (WeakCLIP, DALNet): ``forward`` takes images normalised with CLIP's mean/std (set the data
      preprocessor accordingly) at any size and returns the feature maps of ``out_indices`` (ViT blocks or
      ResNet stages) as (B, C, h, w); :meth:`forward_tokens` also gives the class token and the projected patch
      tokens (ViT), and :meth:`forward_with_extras` gives both from one forward (``WSSSSegmentor`` exposes the
      extras as ``ctx.extras``). As a shared encoder, :meth:`encode_batch` embeds the batch's RGB images. Position embeddings are interpolated for inputs other than the training size.

    Args:
        model_name / pretrained / model_cfg: see :func:`build_open_clip`.
        out_indices: ViT block indices or ResNet stage indices (0-3) for ``forward``.
        grad_through (bool): run backbone mode with autograd (for losses that need gradients through the
            frozen tower); default False runs it under no_grad.
        pos_interp (str): how position embeddings are resized to another patch grid: 'bicubic' (default) or
            'bilinear' (WeakCLIP's and DenseCLIP's code).
    """

    def __init__(self,
                 model_name: str = 'ViT-B-16',
                 pretrained: Optional[str] = 'openai',
                 model_cfg: Optional[dict] = None,
                 out_indices: Sequence[int] = (-1, ),
                 grad_through: bool = False,
                 pos_interp: str = 'bicubic',
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        clip = build_open_clip(model_name, pretrained, model_cfg, config_key='image_encoder.pretrained')
        self.visual = clip.visual  # the text tower is dropped
        self.is_vit = not isinstance(self.visual, ModifiedResNet)
        size = self.visual.image_size
        self.input_size = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
        self.out_indices = tuple(out_indices)
        self.grad_through = grad_through
        if pos_interp not in ('bicubic', 'bilinear'):
            raise ValueError(f'pos_interp must be bicubic or bilinear, got {pos_interp!r}')
        self.pos_interp = pos_interp
        self.register_buffer('mean', torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True):
        super().train(mode)
        self.visual.eval()
        return self

    # ---------------------------------------------------------------- evaluator
    def encode(self, images: Tensor) -> Tensor:
        """RGB images in [0, 1] (N, 3, H, W) -> L2-normalised embeddings (N, D); differentiable in ``images``."""
        x = F.interpolate(images, size=self.input_size, mode='bilinear', align_corners=False)
        x = (x - self.mean) / self.std
        return F.normalize(self.visual(x), dim=-1)

    def encode_batch(self, images: Tensor) -> Tensor:
        """As a shared encoder (``ctx.encoded(name)``): the batch's embeddings, from RGB images in [0, 1]."""
        return self.encode(images)

    # ---------------------------------------------------------------- backbone
    def _vit_tokens(self, x: Tensor) -> Dict[str, object]:
        v = self.visual
        B = x.shape[0]
        x = v.conv1(x)
        grid = x.shape[-2:]
        x = x.flatten(2).transpose(1, 2)
        cls = v.class_embedding.to(x.dtype).expand(B, 1, -1)
        x = torch.cat([cls, x], dim=1)
        x = x + interpolate_pos_embed(v.positional_embedding, v.grid_size, grid, self.pos_interp).to(x.dtype)
        x = v.ln_pre(x)
        n = len(v.transformer.resblocks)
        wanted = [i % n for i in self.out_indices]
        by_block = {}
        for i, blk in enumerate(v.transformer.resblocks):
            x = blk(x)
            if i in wanted:
                by_block[i] = x[:, 1:].transpose(1, 2).reshape(B, -1, *grid)
        maps = [by_block[i] for i in wanted]  # in out_indices order (an index may repeat)
        tokens = v.ln_post(x)
        proj = tokens @ v.proj if v.proj is not None else tokens
        return dict(maps=maps, cls=proj[:, 0], patches=proj[:, 1:], grid=tuple(grid))

    def _resnet_maps(self, x: Tensor):
        v = self.visual
        x = v.stem(x)
        maps = []
        for i, layer in enumerate((v.layer1, v.layer2, v.layer3, v.layer4)):
            x = layer(x)
            if i in {j % 4 for j in self.out_indices}:
                maps.append(x)
        return maps

    def forward_tokens(self, x: Tensor) -> Dict[str, object]:
        """ViT: maps (list of (B, C, h, w)), cls (B, D) and patches (B, h*w, D) projected to the joint space."""
        if not self.is_vit:
            raise NotImplementedError('forward_tokens is for ViT towers; ResNet towers give maps via forward()')
        with torch.set_grad_enabled(self.grad_through and torch.is_grad_enabled()):
            return self._vit_tokens(x)

    def forward_with_extras(self, x: Tensor) -> Tuple[Tuple[Tensor, ...], Dict[str, object]]:
        """Backbone with extras (``WSSSSegmentor`` calls this): the feature maps of ``out_indices`` and, for ViT
        towers, ``cls`` (B, D) and ``patches`` (B, h*w, D) projected to the joint space, plus ``grid`` (h, w),
        from the same single forward."""
        if not self.is_vit:
            return self.forward(x), {}
        out = self.forward_tokens(x)
        return tuple(out.pop('maps')), out

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        with torch.set_grad_enabled(self.grad_through and torch.is_grad_enabled()):
            maps = self._vit_tokens(x)['maps'] if self.is_vit else self._resnet_maps(x)
        return tuple(maps)
