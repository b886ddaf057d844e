from typing import Dict, Optional

import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from .cam_head import CAMHead


@MODELS.register_module()
class SigmoidCAMHead(CAMHead):
    """CLIMS's CAM head: no pooling, ``P_k(h, w) = sigmoid(W_k^T Z(h, w))`` (CLIMS Eq. 3).

    The CAMs are supervised only by guides (the CLIP evaluator), so there is no classification loss unless
    ``loss_cls`` is given. ``cls_logits`` (spatial max of the logits) serve inference when an image carries no
    labels.
    """

    def __init__(self, in_channels: int, num_classes: int, in_index: int = -1, bias: bool = False,
                 loss_cls: Optional[dict] = None, init_cfg=dict(type='Normal', std=0.01, layer='Conv2d')):
        super().__init__(in_channels, num_classes, in_index=in_index, pool='max', bias=bias,
                         loss_cls=loss_cls or dict(type='MultiLabelSoftMarginLoss'), init_cfg=init_cfg)
        self.with_loss_cls = loss_cls is not None

    def forward(self, feats) -> Dict[str, Tensor]:
        x = self._select(feats)
        logits = self.classifier(x)
        return dict(cls_logits=F.adaptive_max_pool2d(logits, 1).flatten(1), cam_logits=logits, features=x)

    def cams(self, outputs: Dict[str, Tensor]) -> Tensor:
        """P = sigmoid(W^T Z) (B, K, h, w), in [0, 1]."""
        return outputs['cam_logits'].sigmoid()

    def loss_by_feat(self, outputs, img_labels) -> Dict[str, Tensor]:
        return super().loss_by_feat(outputs, img_labels) if self.with_loss_cls else {}
