from typing import Dict

import torch
from mmseg.registry import MODELS

from ..losses.affinity import affinity_labels, affinity_loss
from ..parts import BaseLossTerm


@MODELS.register_module()
class AffinityFromAttentionLoss(BaseLossTerm):
    """AFA's affinity from attention (Ru et al., CVPR 2022, Sec. 3.2) as a loss term.

    Supervises the affinity predicted by the model's ``AttentionAffinityHead`` (named by ``affinity``; its
    output ``ctx.head_outputs[affinity]``) with targets from the term's pseudo labels (Eq. 3,
    :func:`affinity_labels`, radius ``radius``) in the balanced form (Eq. 4, :func:`affinity_loss`). With
    several label sources (ECA's official code: the CARM and the CAM labels) the losses are averaged.
    """

    def __init__(self, affinity: str = 'affinity', radius: int = 8, ignore_index: int = 255):
        super().__init__()
        self.affinity, self.radius, self.ignore_index = affinity, radius, ignore_index

    def head_requests(self):
        return (self.affinity, )

    def forward(self, ctx, labels=None) -> Dict[str, torch.Tensor]:
        if labels is None:
            raise ValueError('AffinityFromAttentionLoss needs `labels=<pseudo-label source(s)>` in its term config')
        out = ctx.head_outputs[self.affinity]
        sources = labels if isinstance(labels, (list, tuple)) else [labels]
        losses = [affinity_loss(out['affinity'], affinity_labels(lab, out['grid'], self.radius, self.ignore_index),
                                self.ignore_index) for lab in sources]
        return dict(loss=torch.stack(losses).mean())
