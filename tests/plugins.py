"""Test-only modules (registered on import). Subprocess tests reach them through a config's
``custom_imports=dict(imports=['mmseg_wsss', 'tests.plugins'])`` with the repository root on PYTHONPATH."""
import os.path as osp

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.models.backbones import ResNet
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import HOOKS, MODELS

from mmseg_wsss.models.utils import ClassMemory


@MODELS.register_module(force=True)
class _TeacherEncoder(nn.Module):
    """A tiny frozen 'DINO': RGB images in [0, 1] -> a feature map."""

    def __init__(self, dim: int = 4):
        super().__init__()
        self.conv = nn.Conv2d(3, dim, 3, padding=1)
        self.bn = nn.BatchNorm2d(dim)

    def forward(self, images):
        return self.bn(self.conv(images))

    def encode_batch(self, images):
        return self(images)


@MODELS.register_module(force=True)
class _TeacherPseudoLabel(nn.Module):
    """Pseudo labels from the teacher: argmax of its channels restricted to background + the image's classes."""

    def __init__(self, encoder: str = 'teacher'):
        super().__init__()
        self.encoder = encoder

    def forward(self, ctx):
        feat = ctx.encoded(self.encoder)  # (B, C, H, W), C >= K + 1
        K = ctx.img_labels.shape[1]
        allowed = torch.cat([torch.ones_like(ctx.img_labels[:, :1]), ctx.img_labels], 1)
        return (feat[:, :K + 1] - 1e4 * (1 - allowed[..., None, None])).argmax(1)


@MODELS.register_module(force=True)
class _TeacherLoss(nn.Module):
    """A loss pulling the CAMs towards the (frozen) teacher's features."""

    def __init__(self, encoder: str = 'teacher'):
        super().__init__()
        self.encoder = encoder

    def forward(self, ctx, labels=None):
        feat = ctx.encoded(self.encoder)
        K = ctx.cams.shape[1]
        target = F.interpolate(feat[:, 1:K + 1], size=ctx.cams.shape[-2:], mode='bilinear', align_corners=False)
        return dict(loss=(ctx.cams - target.sigmoid()).pow(2).mean())


@MODELS.register_module(force=True)
class _ExtrasResNet(ResNet):
    """A stock ResNet that also exposes its stem output as an extra (as MiT will expose attention logits)."""

    def forward_with_extras(self, x):
        stem = self.maxpool(self.relu(self.norm1(self.conv1(x)))) if not self.deep_stem else None
        return self(x), dict(stem=stem)


@MODELS.register_module(force=True)
class _ExtrasLoss(nn.Module):
    def forward(self, ctx, labels=None):
        return dict(loss=ctx.extras['stem'].pow(2).mean())


@MODELS.register_module(force=True)
class _LearnableTextEncoder(nn.Module):
    """Text embeddings (K + 1, D) that learn (like WeakCLIP's prompts); no image input."""

    def __init__(self, num_classes: int, dim: int):
        super().__init__()
        self.embeddings = nn.Parameter(torch.randn(num_classes, dim))

    def forward(self):
        return dict(class_embeddings=F.normalize(self.embeddings, dim=-1))


@MODELS.register_module(force=True)
class _TextDotHead(BaseDecodeHead):
    """A text-conditioned decode head: logits = <pixel embedding, class text embedding>."""
    accepts_text = True

    def __init__(self, text_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.proj = nn.Conv2d(self.in_channels, text_dim, 1)

    def forward(self, inputs):
        feats, text = inputs
        x = self.proj(self._transform_inputs(feats))
        return torch.einsum('bchw,kc->bkhw', x, text['class_embeddings'])


@MODELS.register_module(force=True)
class _MemoryLoss(nn.Module):
    """Keeps a per-class memory of pooled features (ClassMemory) and pulls features towards it."""

    def __init__(self, num_classes: int, dim: int, sync: bool = True):
        super().__init__()
        self.memory = ClassMemory(num_classes, dim, momentum=0.9, sync=sync)

    def forward(self, ctx, labels=None):
        pooled = ctx.feats[-1].mean((2, 3))  # (B, D)
        y = ctx.img_labels  # (B, K)
        self.memory.update(y.t() @ pooled.detach(), y.sum(0))
        target = (y @ self.memory.bank) / y.sum(1, keepdim=True).clamp_min(1)
        return dict(loss=(F.normalize(pooled, dim=-1) - F.normalize(target, dim=-1)).pow(2).sum(1).mean())


@HOOKS.register_module(force=True)
class _DumpMemoryHook(Hook):
    """After training, every rank writes the memory bank at ``module`` (a ClassMemory's path in the model) to
    work_dir/memory_rank{r}.pt."""

    def __init__(self, module: str = 'loss_terms.memory.memory'):
        self.module = module

    def after_train(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        torch.save(model.get_submodule(self.module).bank.clone(),
                   osp.join(runner.work_dir, f'memory_rank{get_rank()}.pt'))


@HOOKS.register_module(force=True)
class _DumpRankStateHook(Hook):
    """Every rank writes its total loss of each iteration and the tensors at ``params`` (parameter names of the
    model) before and after training to work_dir/rank_state{r}.pt: what each rank of a DDP run saw."""

    def __init__(self, params=('encoders.text.ctx', )):
        self.params, self.losses, self.initial = tuple(params), [], {}

    def before_train(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        named = dict(model.named_parameters())
        self.initial = {p: named[p].detach().clone() for p in self.params}

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.losses.append(float(outputs['loss']))

    def after_train(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        named = dict(model.named_parameters())
        torch.save(dict(losses=self.losses, initial=self.initial,
                        params={p: named[p].detach().clone() for p in self.params}),
                   osp.join(runner.work_dir, f'rank_state{get_rank()}.pt'))
