import torch.nn.functional as F
from torch import Tensor


def multilabel_soft_margin_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Multi-label sigmoid cross entropy (CLIMS, Eq. 1; the CAM classification loss of every method here).

    ``-1/K sum_k [y_k log sigma(x_k) + (1 - y_k) log(1 - sigma(x_k))]``, averaged over the batch. Eq. 1 sums over
    the K classes; we average as IRNet, AFA and the official codes do (a constant factor 1/K, absorbed by the
    loss weight).
    """
    return F.multilabel_soft_margin_loss(logits, labels.to(logits.dtype))
