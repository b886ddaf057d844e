from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from open_clip.modified_resnet import ModifiedResNet
from timm.layers import resample_abs_pos_embed
from torch import Tensor

from .openclip import build_open_clip


def interpolate_pos_embed(pos: Tensor, grid: Tuple[int, int], new_grid: Tuple[int, int],
                          mode: str = 'bicubic') -> Tensor:
    """Resize a ViT position embedding (1 + gh*gw, C) to a new patch grid (``mode``: 'bicubic' or 'bilinear',
    half-pixel, no antialiasing: as F.interpolate, the official CLIP-backbone codes); unchanged if equal. timm's
    ``resample_abs_pos_embed`` does the work (the class position is kept)."""
    if tuple(grid) == tuple(new_grid):
        return pos
    out = resample_abs_pos_embed(pos[None].float(), list(new_grid), list(grid), num_prefix_tokens=1,
                                 interpolation=mode, antialias=False)
    return out[0].to(pos.dtype)


def run_vit_blocks(blocks, x: Tensor, grid: Tuple[int, int], project: Callable[[Tensor], Tensor],
                   out_indices: Sequence[int], proj_indices: Sequence[int] = (), token_blocks: Sequence[int] = (),
                   first_trained: int = 0, num_prefix: int = 1) -> Dict[str, object]:
    """Run a ViT's ``blocks`` on its embedded tokens ``x`` (B, num_prefix + h*w, C; the class token first) and
    collect what the image-text backbones give (``OpenCLIPImageEncoder``, ``TimmViTEncoder``): ``maps`` (the
    patch tokens of ``out_indices`` as (B, C, h, w), then those of ``proj_indices`` through ``project`` as
    (B, D, h, w)), the final ``cls`` (B, D) and ``patches`` (B, h*w, D) through ``project``, the ``grid`` and,
    for ``token_blocks`` (non-negative indices), ``tokens[i]`` = dict(cls, patches, cls_proj, patches_proj).
    Blocks before ``first_trained`` run without autograd."""
    B = x.shape[0]
    grad = torch.is_grad_enabled()
    n = len(blocks)
    wanted = [i % n for i in out_indices]
    wanted_proj = [i % n for i in proj_indices]
    by_block, by_block_proj, tokens = {}, {}, {}
    for i, blk in enumerate(blocks):
        with torch.set_grad_enabled(grad and i >= first_trained):
            x = blk(x)
        if i in wanted:
            by_block[i] = x[:, num_prefix:].transpose(1, 2).reshape(B, -1, *grid)
        if i in token_blocks or i in wanted_proj:
            proj = project(x)
            if i in token_blocks:
                tokens[i] = dict(cls=x[:, 0], patches=x[:, num_prefix:], cls_proj=proj[:, 0],
                                 patches_proj=proj[:, num_prefix:])
            if i in wanted_proj:
                by_block_proj[i] = proj[:, num_prefix:].transpose(1, 2).reshape(B, -1, *grid)
    # in out_indices order (an index may repeat), then the projected ones
    maps = [by_block[i] for i in wanted] + [by_block_proj[i] for i in wanted_proj]
    if n - 1 in tokens:
        cls_proj, patches_proj = tokens[n - 1]['cls_proj'], tokens[n - 1]['patches_proj']
    else:
        full = project(x)
        cls_proj, patches_proj = full[:, 0], full[:, num_prefix:]
    out = dict(maps=maps, cls=cls_proj, patches=patches_proj, grid=tuple(grid))
    if token_blocks:
        out['tokens'] = tokens
    return out


class ViTBackboneMixin:
    """What the ViT towers used as backbones share (:class:`OpenCLIPImageEncoder`, ``TimmViTEncoder``): which
    parameters train (``train_blocks``), the extras they declare and the two backbone entry points.

    A subclass provides ``num_layers``, ``_tower()`` (the pretrained tower: what ``train_blocks`` freezes),
    ``_blocks()`` (its ViT blocks), ``_final()`` (what trains with the last k blocks: the final norm and a
    pretrained projection) and ``forward_tokens(x)`` (a dict with ``maps``, ``cls``, ``patches``, ``grid`` and
    ``tokens``); new layers outside the tower (a learned projection) always train. ``is_vit = False`` (a ResNet
    tower) declares no extras.
    """
    is_vit = True
    token_blocks: Tuple[int, ...] = ()

    def _set_trainable(self, train_blocks) -> int:
        """requires_grad per ``train_blocks`` ('all', or k: the last k blocks + ``_final()``); returns the index
        of the first block that trains (the embeddings and earlier blocks then run without gradients)."""
        n = self.num_layers
        if train_blocks == 'all':
            self._tower().requires_grad_(True)
            return 0
        if not self.is_vit or isinstance(train_blocks, bool) or not isinstance(train_blocks, int) \
                or not 0 <= train_blocks <= n:
            raise ValueError(f"train_blocks must be 'all' or an int in [0, {n}] (ViT towers), got {train_blocks!r}")
        self._tower().requires_grad_(False)
        if train_blocks:
            for blk in self._blocks()[n - train_blocks:]:
                blk.requires_grad_(True)
            for part in self._final():
                part.requires_grad_(True)
        return n - train_blocks

    @property
    def extra_outputs(self) -> frozenset:
        """The keys of :meth:`forward_with_extras`' extras (``tokens.<i>``: ``extras['tokens'][i]``)."""
        if not self.is_vit:
            return frozenset()
        return frozenset(('cls', 'patches', 'grid', *(f'tokens.{i}' for i in self.token_blocks)))

    def forward_with_extras(self, x: Tensor) -> Tuple[Tuple[Tensor, ...], Dict[str, object]]:
        """Backbone with extras (``WSSSSegmentor`` calls this): the feature maps of ``out_indices`` and, for ViT
        towers, ``cls``, ``patches``, ``grid`` and ``tokens``, from the same single forward."""
        if not self.is_vit:
            return self.forward(x), {}
        out = self.forward_tokens(x)
        return tuple(out.pop('maps')), out

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        return tuple(self.forward_tokens(x)['maps'])


@MODELS.register_module()
class OpenCLIPImageEncoder(ViTBackboneMixin, BaseModule):
    """An open_clip image tower, frozen or trained, usable three ways.

    * Evaluator (CLIMS): :meth:`encode` takes RGB images in [0, 1] of any size, resizes them to the tower's input
      size, normalises with CLIP's statistics and returns L2-normalised embeddings. It is not run under no_grad,
      so gradients flow to the *input* (the CAMs that masked it) even when the tower is frozen.
    * Backbone (WeakCLIP: frozen; DALNet: trained): ``forward`` takes images normalised with CLIP's mean/std (set
      the data preprocessor accordingly) at any size and returns the feature maps of ``out_indices`` (ViT blocks
      or ResNet stages) as (B, C, h, w); :meth:`forward_with_extras` also gives, from the same forward, the final
      class token ``cls`` (B, D) and patch tokens ``patches`` (B, h*w, D) after the final LayerNorm and
      projection, the patch ``grid``, and ``tokens``: for each block of ``token_blocks``, that block's class and
      patch tokens before (``cls``, ``patches``: width C) and after (``cls_proj``, ``patches_proj``: the joint
      space D) the final LayerNorm + projection (DALNet reads the 10th and the last block: indices 9 and 11).
      ``proj_indices`` appends, after the maps of ``out_indices``, those blocks' patch tokens through the final
      LayerNorm + projection as (B, D, h, w) maps (heads that compare patches with text: DALNet's CAM head).
      Position embeddings are interpolated for inputs other than the training size.
    * Shared encoder: :meth:`encode_batch` embeds the batch's RGB images (``batch_output='embedding'``) or, with
      ``batch_output='tokens'`` (ViT towers), gives the dict of :meth:`forward_with_extras`' extras (``cls``,
      ``patches``, ``grid``, ``tokens``) at the batch's own size: a frozen copy of a trained backbone's tower that
      parts read instead of the backbone (``PatchTextLabels(image_encoder=...)``: DALNet's mask from the frozen
      start, our option).

    Freezing follows the segmentor's one rule (``frozen`` / ``in_checkpoint`` on the backbone or encoder
    config: frozen parts keep eval mode, run under no_grad and stay out of checkpoints, since this module loads
    its weights when it is built). Inside a trained tower, ``train_blocks`` chooses what trains.

    Args:
        model_name / pretrained / model_cfg / quick_gelu: see :func:`build_open_clip` (``quick_gelu=None`` takes
            the activation from the pretrained tag: QuickGELU for OpenAI's weights).
        out_indices: ViT block indices or ResNet stage indices (0-3) for ``forward``.
        pos_interp (str): how position embeddings are resized to another patch grid: 'bicubic' (default) or
            'bilinear' (WeakCLIP's and DenseCLIP's code).
        train_blocks: 'all' (every parameter, default), or k: the last k ViT blocks plus the final LayerNorm and
            projection (k = 0: nothing trains). Frozen leading blocks run without autograd.
        token_blocks: ViT blocks whose tokens go to the extras' ``tokens`` (negative indices count from the end;
            the keys are the non-negative indices).
        proj_indices: ViT blocks whose projected patch tokens are appended to ``forward``'s maps.
        batch_output (str): what :meth:`encode_batch` gives as a shared encoder: 'embedding' (default) or
            'tokens' (see above; ``batch_outputs`` names the keys, checked when the model is built).

    ``extra_outputs`` names what :meth:`forward_with_extras` gives (``cls``, ``patches``, ``grid`` and
    ``tokens.<i>`` per token block), so a part that reads a missing one fails when the model is built.
    """
    weights_at_build = True  # the weights come from `pretrained` when the module is built (checkpoint rule)

    def __init__(self,
                 model_name: str = 'ViT-B-16',
                 pretrained: Optional[str] = 'openai',
                 model_cfg: Optional[dict] = None,
                 out_indices: Sequence[int] = (-1, ),
                 pos_interp: str = 'bicubic',
                 quick_gelu: Optional[bool] = None,
                 train_blocks: Union[str, int] = 'all',
                 token_blocks: Sequence[int] = (),
                 proj_indices: Sequence[int] = (),
                 batch_output: str = 'embedding',
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        clip = build_open_clip(model_name, pretrained, model_cfg, config_key='image_encoder.pretrained',
                               quick_gelu=quick_gelu)
        self.visual = clip.visual  # the text tower is dropped
        self.is_vit = not isinstance(self.visual, ModifiedResNet)
        size = self.visual.image_size
        self.input_size = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
        self.out_indices = tuple(out_indices)
        if pos_interp not in ('bicubic', 'bilinear'):
            raise ValueError(f'pos_interp must be bicubic or bilinear, got {pos_interp!r}')
        self.pos_interp = pos_interp
        n = self.num_layers
        self.token_blocks = tuple(sorted({i % n for i in token_blocks})) if token_blocks else ()
        self.proj_indices = tuple(proj_indices)
        if (self.token_blocks or self.proj_indices) and not self.is_vit:
            raise ValueError('token_blocks and proj_indices are for ViT towers')
        if batch_output not in ('embedding', 'tokens') or (batch_output == 'tokens' and not self.is_vit):
            raise ValueError(f"batch_output must be 'embedding' or 'tokens' (ViT towers), got {batch_output!r}")
        self.batch_output = batch_output
        self.train_blocks = train_blocks
        self.first_trained = self._set_trainable(train_blocks)
        self.register_buffer('mean', torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1), persistent=False)

    @property
    def num_layers(self) -> int:
        """ViT blocks (or ResNet stages) of the tower."""
        return len(self.visual.transformer.resblocks) if self.is_vit else 4

    def _tower(self):
        return self.visual

    def _blocks(self):
        return self.visual.transformer.resblocks

    def _final(self):
        return [self.visual.ln_post] + ([self.visual.proj] if self.visual.proj is not None else [])

    def layer_id(self, name: str) -> int:
        """Depth of parameter ``name`` (relative to this module) for layer-wise learning rates: 0 for the
        embeddings, i + 1 for block i, ``num_layers`` + 1 for the final LayerNorm and projection."""
        n = self.num_layers
        key = 'visual.transformer.resblocks.'
        if name.startswith(key):
            return int(name[len(key):].split('.')[0]) + 1
        if name.startswith(('visual.conv1', 'visual.class_embedding', 'visual.positional_embedding',
                            'visual.ln_pre', 'visual.patch_dropout')):
            return 0
        return n + 1

    # ---------------------------------------------------------------- evaluator
    def encode(self, images: Tensor) -> Tensor:
        """RGB images in [0, 1] (N, 3, H, W) -> L2-normalised embeddings (N, D); differentiable in ``images``."""
        x = F.interpolate(images, size=self.input_size, mode='bilinear', align_corners=False)
        x = (x - self.mean) / self.std
        return F.normalize(self.visual(x), dim=-1)

    def encode_batch(self, images: Tensor):
        """As a shared encoder (``ctx.encoded(name)``), from RGB images in [0, 1]: the batch's embeddings (N, D),
        or with ``batch_output='tokens'`` the token dict of :meth:`forward_tokens` at the images' size (no maps)."""
        if self.batch_output == 'embedding':
            return self.encode(images)
        out = self.forward_tokens((images - self.mean) / self.std)
        out.pop('maps')
        return out

    @property
    def batch_outputs(self) -> frozenset:
        """The keys of :meth:`encode_batch`'s dict (none for embeddings), as ``extra_outputs``."""
        return self.extra_outputs if self.batch_output == 'tokens' else frozenset()

    # ---------------------------------------------------------------- backbone
    def project(self, tokens: Tensor) -> Tensor:
        """The tower's final LayerNorm + projection into the joint image-text space (..., C) -> (..., D)."""
        tokens = self.visual.ln_post(tokens)
        return tokens @ self.visual.proj if self.visual.proj is not None else tokens

    def _vit_tokens(self, x: Tensor) -> Dict[str, object]:
        v = self.visual
        B = x.shape[0]
        grad = torch.is_grad_enabled()
        with torch.set_grad_enabled(grad and self.first_trained == 0):
            x = v.conv1(x)
            grid = x.shape[-2:]
            x = x.flatten(2).transpose(1, 2)
            cls = v.class_embedding.to(x.dtype).expand(B, 1, -1)
            x = torch.cat([cls, x], dim=1)
            x = x + interpolate_pos_embed(v.positional_embedding, v.grid_size, grid, self.pos_interp).to(x.dtype)
            x = v.ln_pre(x)
        return run_vit_blocks(v.transformer.resblocks, x, tuple(grid), self.project, self.out_indices,
                              self.proj_indices, self.token_blocks, self.first_trained)

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
        """ViT: ``maps`` (list of (B, C, h, w)), ``cls`` (B, D), ``patches`` (B, h*w, D), ``grid`` and, with
        ``token_blocks``, ``tokens`` (see the class docstring)."""
        if not self.is_vit:
            raise NotImplementedError('forward_tokens is for ViT towers; ResNet towers give maps via forward()')
        return self._vit_tokens(x)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        return tuple(self._vit_tokens(x)['maps'] if self.is_vit else self._resnet_maps(x))
