from typing import Dict

import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

HEAD_LOGITS = dict(decode_head='seg_logits', auxiliary_head='aux_logits')


@MODELS.register_module()
class DecodeLoss(nn.Module):
    """Segmentation loss of the decode head (or the auxiliary head) against a pseudo-label source.

    The head ran once for the batch (``ctx.seg_logits`` / ``ctx.aux_logits``); this term only scores those logits
    with the head's own ``loss_by_feat`` (its ``loss_decode``, e.g. mmseg's CrossEntropyLoss, ignore 255), so two
    sources give two terms and still one decoder pass. Name the source with the term's ``labels``.
    """

    def __init__(self, head: str = 'decode_head'):
        super().__init__()
        if head not in HEAD_LOGITS:
            raise ValueError(f'head must be one of {sorted(HEAD_LOGITS)}, got {head!r}')
        self.head = head

    def forward(self, ctx, labels=None) -> Dict[str, Tensor]:
        if labels is None:
            raise ValueError('DecodeLoss needs `labels=<pseudo-label source name>` in its term config')
        head = getattr(ctx.segmentor, self.head)
        logits = getattr(ctx, HEAD_LOGITS[self.head])
        if head is None or logits is None:
            raise ValueError(f'DecodeLoss(head={self.head!r}) but the model has no {self.head}')
        return head.loss_by_feat(logits, ctx.with_labels(labels))
