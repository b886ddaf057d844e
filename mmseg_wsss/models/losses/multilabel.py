import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor


def multilabel_soft_margin_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Multi-label sigmoid cross entropy (CLIMS, Eq. 1; the CAM classification loss of every method here).

    ``-1/K sum_k [y_k log sigma(x_k) + (1 - y_k) log(1 - sigma(x_k))]``, averaged over the batch. Eq. 1 sums over
    the K classes; we average as IRNet, AFA and the official codes do (a constant factor 1/K, absorbed by the
    loss weight).
    """
    return F.multilabel_soft_margin_loss(logits, labels.to(logits.dtype))


@MODELS.register_module()
class MultiLabelSoftMarginLoss(nn.Module):
    """Module form of :func:`multilabel_soft_margin_loss` with a ``loss_weight``."""

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_cls'):
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        return self.loss_weight * multilabel_soft_margin_loss(logits, labels)

    @property
    def loss_name(self) -> str:
        return self._loss_name
