from typing import Dict

from mmseg.registry import MODELS
from torch import Tensor

from ..losses.multilabel import multilabel_soft_margin_loss
from ..parts import BaseLossTerm


@MODELS.register_module()
class CAMClassificationLoss(BaseLossTerm):
    """The CAM network's image classification loss (CLIMS Eq. 1; every CAM method's): multi-label soft margin
    loss of the CAM head's ``cls_logits`` against the image-level labels. Its weight is the term's ``weight``."""

    def forward(self, ctx, labels=None) -> Dict[str, Tensor]:
        if 'cls_logits' not in ctx.cam_outputs:
            raise ValueError('CAMClassificationLoss needs a cam_head that returns cls_logits')
        return dict(loss=multilabel_soft_margin_loss(ctx.cam_outputs['cls_logits'], ctx.img_labels))
