"""A timm ViT trained as an image-text backbone: an ImageNet ViT whose tokens reach a CLIP text space through a
learned projection (DALNet's reconstruction 1, alternative: ``papers/facts/dalnet.md``).

The real encoder is ViT-B/16 pretrained on ImageNet-21k, in timm's layout (``timm/vit_base_patch16_224.augreg_in21k``
on the Hugging Face hub: ``model.safetensors``; or the ``.npz`` of the original release, or any ``.pth`` state
dict of timm's ``vit_base_patch16_224``). ``toy-vit`` is the same class with tiny dimensions for the tests.
"""
import os.path as osp
from typing import Dict, Optional, Sequence, Union

import torch
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..clip.image_encoder import ViTBackboneMixin, run_vit_blocks

VIT_ARCHS: Dict[str, dict] = {
    # ViT-B/16 (ToCo's encoder; timm vit_base_patch16_224): trained at 224 (14 x 14 + 1 position embeddings)
    'vit-b16': dict(img_size=224, patch_size=16, embed_dim=768, depth=12, num_heads=12),
    # tests only: same class, tiny
    'toy-vit': dict(img_size=64, patch_size=8, embed_dim=64, depth=3, num_heads=4),
}
IN21K_WEIGHTS = ('https://huggingface.co/timm/vit_base_patch16_224.augreg_in21k (model.safetensors), '
                 'or the ImageNet-21k .npz of google-research/vision_transformer')
IN21K_MEAN = (127.5, 127.5, 127.5)  # timm's augreg ImageNet-21k weights: mean = std = 0.5 (x 255)
IN21K_STD = (127.5, 127.5, 127.5)


def timm_vit_state_dict(obj: dict) -> Dict[str, Tensor]:
    """The encoder weights of a timm ViT file: a plain state dict or a ``model`` / ``state_dict`` wrapper;
    ``module.`` / ``backbone.`` / ``encoder.`` prefixes stripped, the classifier (``head.*``, ``pre_logits.*``)
    dropped (ImageNet-21k's has 21,843 classes)."""
    for key in ('model', 'state_dict'):
        if isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    out = {}
    for k, v in obj.items():
        for prefix in ('module.', 'backbone.', 'encoder.'):
            if k.startswith(prefix):
                k = k[len(prefix):]
        if not k.startswith(('head.', 'pre_logits.')):
            out[k] = v
    return out


def build_timm_vit(arch: str = 'vit-b16', checkpoint: Optional[str] = None):
    """timm ``VisionTransformer`` of ``arch`` (``VIT_ARCHS``) with dynamic input size and no classifier; with
    ``checkpoint`` its weights are loaded strictly from that local file (``.safetensors``, ``.npz`` through timm's
    own loader, or a torch state dict); a missing file fails with one line saying what to fetch."""
    from timm.models.vision_transformer import VisionTransformer
    if arch not in VIT_ARCHS:
        raise KeyError(f'unknown ViT arch {arch!r}; known: {sorted(VIT_ARCHS)}')
    model = VisionTransformer(num_classes=0, dynamic_img_size=True, **VIT_ARCHS[arch])
    if checkpoint is None:
        return model
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'ViT weights not found at {checkpoint}: download {IN21K_WEIGHTS} and put the file '
                                'there (backbone.checkpoint)')
    if checkpoint.endswith('.npz'):
        from timm.models.vision_transformer import _load_weights
        _load_weights(model, checkpoint)  # timm's reader of the original JAX release (the head is skipped)
        return model
    if checkpoint.endswith('.safetensors'):
        from safetensors.torch import load_file
        sd = load_file(checkpoint)
    else:
        sd = torch.load(checkpoint, map_location='cpu', weights_only=True)
    model.load_state_dict(timm_vit_state_dict(sd), strict=True)
    return model


@MODELS.register_module()
class TimmViTEncoder(ViTBackboneMixin, BaseModule):
    """An ImageNet ViT (timm) trained as the backbone of an image-text method, with a learned projection of its
    tokens into a text space: the same outputs as ``OpenCLIPImageEncoder`` used as a backbone, so DALNet's heads,
    mask and terms take either.

    ``forward`` gives the patch tokens of ``out_indices`` as (B, C, h, w) maps, then those of ``proj_indices``
    through the final LayerNorm + ``text_proj`` (C -> ``proj_dim``); :meth:`forward_with_extras` adds ``cls`` /
    ``patches`` (final tokens, projected), ``grid`` and ``tokens[i]`` for ``token_blocks`` (``cls``, ``patches``,
    ``cls_proj``, ``patches_proj``). The projection is new (random, trained): give it the new layers' learning rate
    (``paramwise_cfg.custom_keys['backbone.text_proj']``). Position embeddings are interpolated (timm's dynamic
    size) for inputs other than 224. Images are normalised by the data preprocessor (``IN21K_MEAN`` / ``_STD``).

    Args:
        arch: a key of ``VIT_ARCHS`` ('vit-b16').
        checkpoint: local weights (timm layout; see the module docstring), or None (random: tests).
        proj_dim: width of the text space (512 for CLIP ViT-B/16's text tower).
        out_indices / proj_indices / token_blocks: as ``OpenCLIPImageEncoder``.
        train_blocks: 'all' (default) or k: the last k blocks, the final norm and the projection train.
    """
    weights_at_build = True  # loaded from `checkpoint` when built (checkpoint rule)

    def __init__(self,
                 arch: str = 'vit-b16',
                 checkpoint: Optional[str] = None,
                 proj_dim: int = 512,
                 out_indices: Sequence[int] = (-1, ),
                 proj_indices: Sequence[int] = (),
                 token_blocks: Sequence[int] = (),
                 train_blocks: Union[str, int] = 'all',
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.vit = build_timm_vit(arch, checkpoint)
        width = self.vit.embed_dim
        self.text_proj = nn.Linear(width, proj_dim, bias=False)
        nn.init.normal_(self.text_proj.weight, std=width**-0.5)  # CLIP's initialisation of its projection
        n = self.num_layers
        self.out_indices = tuple(out_indices)
        self.proj_indices = tuple(proj_indices)
        self.token_blocks = tuple(sorted({i % n for i in token_blocks})) if token_blocks else ()
        self.first_trained = self._set_trainable(train_blocks)

    def init_weights(self):
        pass  # the encoder comes from the checkpoint (or stays random for tests); the projection from __init__

    @property
    def num_layers(self) -> int:
        return len(self.vit.blocks)

    def _tower(self):
        return self.vit

    def _blocks(self):
        return self.vit.blocks

    def _final(self):
        return [self.vit.norm]

    def project(self, tokens: Tensor) -> Tensor:
        """The final LayerNorm + the learned projection into the text space (..., C) -> (..., proj_dim)."""
        return self.text_proj(self.vit.norm(tokens))

    def forward_tokens(self, x: Tensor) -> Dict[str, object]:
        v = self.vit
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.first_trained == 0):
            x = v.patch_embed(x)  # (B, h, w, C): dynamic size
            grid = tuple(x.shape[1:3])
            x = v.norm_pre(v.patch_drop(v._pos_embed(x)))
        return run_vit_blocks(v.blocks, x, grid, self.project, self.out_indices, self.proj_indices,
                              self.token_blocks, self.first_trained, num_prefix=v.num_prefix_tokens)
