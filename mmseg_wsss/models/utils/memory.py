"""State that learns during training and must be the same on every rank (ECA's prototype memory)."""
import torch
import torch.nn as nn
from mmengine.dist import all_reduce, broadcast, is_distributed
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class ClassMemory(nn.Module):
    """A per-class feature memory updated with momentum: ``bank_c <- m bank_c + (1 - m) mean_c`` for every class c
    with features in the batch (the form of ECA's prototype update, Eq. 8).

    The bank is a persistent buffer, so it is saved in and restored from checkpoints. Under DDP every rank
    updates with the same numbers: the per-class sums and counts are all-reduced before the update (mmengine does
    not broadcast buffers, and the official ECA code lets each GPU's memory drift apart), and the bank is
    broadcast from rank 0 at the first update of a process, so ranks also start equal.

    Args:
        num_classes (int): rows of the bank.
        dim (int): feature size.
        momentum (float): m.
        init (str): 'randn' (the ECA code) or 'zeros'.
        sync (bool): all-reduce across ranks (default True; False reproduces the official code's per-GPU banks).
    """

    def __init__(self, num_classes: int, dim: int, momentum: float = 0.99, init: str = 'randn', sync: bool = True):
        super().__init__()
        if init not in ('randn', 'zeros'):
            raise ValueError(f"init must be 'randn' or 'zeros', got {init!r}")
        self.momentum = momentum
        self.sync = sync
        self.register_buffer('bank', torch.randn(num_classes, dim) if init == 'randn' else
                             torch.zeros(num_classes, dim))
        self._started = False

    @torch.no_grad()
    def update(self, sums: Tensor, counts: Tensor) -> None:
        """``sums`` (C, D): per-class sums of this rank's features; ``counts`` (C,): how many were summed."""
        sums, counts = sums.detach().float().clone(), counts.detach().float().clone()
        if self.sync and is_distributed():
            if not self._started:
                broadcast(self.bank, src=0)
            all_reduce(sums, op='sum')
            all_reduce(counts, op='sum')
        self._started = True
        present = counts > 0
        mean = sums[present] / counts[present, None]
        self.bank[present] = self.momentum * self.bank[present] + (1 - self.momentum) * mean.to(self.bank.dtype)
