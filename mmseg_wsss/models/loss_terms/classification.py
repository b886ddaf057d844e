from typing import Dict, Optional

from mmseg.registry import MODELS
from torch import Tensor

from ..losses.multilabel import multilabel_soft_margin_loss
from ..parts import BaseLossTerm


@MODELS.register_module()
class CAMClassificationLoss(BaseLossTerm):
    """The CAM network's image classification loss (CLIMS Eq. 1; every CAM method's): multi-label soft margin
    loss of the CAM head's ``cls_logits`` against the image-level labels. Its weight is the term's ``weight``.

    Args:
        head (str, optional): a named head (``heads=dict(<head>=...)``) whose ``cls_logits`` are classified
            instead of the CAM head's (ToCo's auxiliary block-10 classifier, ``AuxCAMHead``).
    """

    def __init__(self, head: Optional[str] = None):
        super().__init__()
        self.head = head

    def head_requests(self):
        return () if self.head is None else (self.head, )

    def forward(self, ctx, labels=None) -> Dict[str, Tensor]:
        out = ctx.cam_outputs if self.head is None else ctx.head_outputs[self.head]
        if 'cls_logits' not in out:
            who = 'a cam_head' if self.head is None else f'heads.{self.head}'
            raise ValueError(f'CAMClassificationLoss needs {who} that returns cls_logits')
        return dict(loss=multilabel_soft_margin_loss(out['cls_logits'], ctx.img_labels))
