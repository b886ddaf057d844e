import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor


def bg_fg_balanced_ce(logits: Tensor, labels: Tensor, ignore_index: int = 255) -> Tensor:
    """AFA / ECA official code's segmentation loss: 0.5 x mean CE over background pixels + 0.5 x mean CE over
    foreground pixels (ignored pixels excluded; a group with no pixel contributes 0)."""
    ce = F.cross_entropy(logits, labels.masked_fill(labels == ignore_index, 0), reduction='none')
    valid = labels != ignore_index
    bg, fg = (valid & (labels == 0)).to(ce.dtype), (valid & (labels != 0)).to(ce.dtype)
    return 0.5 * (ce * bg).sum() / bg.sum().clamp_min(1) + 0.5 * (ce * fg).sum() / fg.sum().clamp_min(1)


@MODELS.register_module()
class BgFgBalancedCrossEntropyLoss(nn.Module):
    """:func:`bg_fg_balanced_ce` as an mmseg decode-head loss (``loss_decode=dict(type=...)``), the official AFA /
    ECA code's alternative to the papers' plain cross-entropy. The decode head resizes its logits to the label
    size before calling it."""

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_ce'):
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, cls_score: Tensor, label: Tensor, weight=None, ignore_index: int = 255, **kwargs) -> Tensor:
        return self.loss_weight * bg_fg_balanced_ce(cls_score, label, ignore_index)

    @property
    def loss_name(self) -> str:
        return self._loss_name
