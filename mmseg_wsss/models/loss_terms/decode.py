from typing import Dict

from mmseg.registry import MODELS
from torch import Tensor

from ..parts import BaseLossTerm

HEAD_LOGITS = dict(decode_head='seg_logits', auxiliary_head='aux_logits')


@MODELS.register_module()
class DecodeLoss(BaseLossTerm):
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

    def head_requests(self):
        return (self.head, )

    def forward(self, ctx, labels=None) -> Dict[str, Tensor]:
        if labels is None:
            raise ValueError('DecodeLoss needs `labels=<pseudo-label source name>` in its term config')
        return ctx.head_loss(self.head, getattr(ctx, HEAD_LOGITS[self.head]), labels)
