from typing import Dict, Sequence

import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor


POOLS = ('avg', 'max')


def check_pool(pool: str) -> str:
    if pool not in POOLS:
        raise ValueError(f'pool must be one of {POOLS}, got {pool!r}')
    return pool


def pooled_logits(classifier: nn.Module, x: Tensor, pool: str) -> Tensor:
    """Image-level logits (B, K): the 1x1 ``classifier`` on the global ``pool`` ('avg' / 'max') of ``x``
    (B, C, h, w) (Zhou et al. 2016). Without a bias this equals pooling the CAM logits for 'avg'."""
    pooled = F.adaptive_avg_pool2d(x, 1) if pool == 'avg' else F.adaptive_max_pool2d(x, 1)
    return classifier(pooled).flatten(1)


@MODELS.register_module()
class CAMHead(BaseModule):
    """Class activation map head: global pooling + 1x1 classifier.

    ``forward`` returns ``cls_logits`` (B, K) from the pooled features and ``cam_logits`` (B, K, h, w), the
    classifier applied at every position (Zhou et al. 2016, CAM; CLIMS Eq. 2). CAMs are ``ReLU(cam_logits)``;
    normalisation and background are done by :mod:`mmseg_wsss.utils.cam_ops`. The classification loss is a
    loss term of the segmentor (``CAMClassificationLoss``), not part of the head.

    Args:
        in_channels (int): channels of the selected feature map.
        num_classes (int): number of foreground classes K (the dataset's classes minus background).
        in_index (int): which backbone/neck output to use.
        pool (str): 'avg' (IRNet, CLIMS's baseline) or 'max' (AFA / ECA) global pooling.
        bias (bool): classifier bias; CAM methods use none, so that CAM = W^T Z exactly.

    Maps (:mod:`mmseg_wsss.models.maps`): ``'cams'`` of kind ``cam_kind`` (relu) and ``'cam_logits'`` (logits).
    """
    cam_kind = 'relu'

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 in_index: int = -1,
                 pool: str = 'avg',
                 bias: bool = False,
                 init_cfg=dict(type='Normal', std=0.01, layer='Conv2d')):
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.in_index = in_index
        self.pool = check_pool(pool)
        self.classifier = nn.Conv2d(in_channels, num_classes, 1, bias=bias)

    def _select(self, feats: Sequence[Tensor]) -> Tensor:
        return feats[self.in_index] if isinstance(feats, (list, tuple)) else feats

    def forward(self, feats: Sequence[Tensor]) -> Dict[str, Tensor]:
        x = self._select(feats)
        return dict(cls_logits=pooled_logits(self.classifier, x, self.pool), cam_logits=self.classifier(x))

    def cams(self, outputs: Dict[str, Tensor]) -> Tensor:
        """Unnormalised CAMs, ReLU(W^T Z) (B, K, h, w)."""
        return F.relu(outputs['cam_logits'])

    def inference_cams(self, outputs: Dict[str, Tensor]) -> Tensor:
        """The CAMs that inference normalises and thresholds (the training CAMs unless a head says otherwise)."""
        return self.cams(outputs)
