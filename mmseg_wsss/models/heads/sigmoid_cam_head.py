from typing import Dict

import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from .cam_head import CAMHead


@MODELS.register_module()
class SigmoidCAMHead(CAMHead):
    """CLIMS's CAM head: no pooling, ``P_k(h, w) = sigmoid(W_k^T Z(h, w))`` (CLIMS Eq. 3).

    The CAMs are supervised by the CLIMS loss term only. ``cls_logits`` (spatial max of the logits) serve
    inference when an image carries no labels.

    Args:
        inference_activation: what inference max-normalises into CAMs: 'relu' (``ReLU(W^T Z)``, default: what the
            official code does; the paper defines P for training (Eq. 3) and does not say how seeds are read at
            inference) or 'sigmoid' (P itself, which saturates wherever the logits are large, objects and plain
            background alike).

    Maps: ``'cams'`` is of kind sigmoid (in (0, 1)); ``'cam_logits'`` as ``CAMHead``.
    """
    cam_kind = 'sigmoid'

    def __init__(self, in_channels: int, num_classes: int, in_index: int = -1, bias: bool = False,
                 inference_activation: str = 'relu', init_cfg=dict(type='Normal', std=0.01, layer='Conv2d')):
        super().__init__(in_channels, num_classes, in_index=in_index, pool='max', bias=bias, init_cfg=init_cfg)
        if inference_activation not in ('sigmoid', 'relu'):
            raise ValueError(f"inference_activation must be 'sigmoid' or 'relu', got {inference_activation!r}")
        self.inference_activation = inference_activation

    def forward(self, feats) -> Dict[str, Tensor]:
        logits = self.classifier(self._select(feats))
        return dict(cls_logits=F.adaptive_max_pool2d(logits, 1).flatten(1), cam_logits=logits)

    def cams(self, outputs: Dict[str, Tensor]) -> Tensor:
        """P = sigmoid(W^T Z) (B, K, h, w), in [0, 1]."""
        return outputs['cam_logits'].sigmoid()

    def inference_cams(self, outputs: Dict[str, Tensor]) -> Tensor:
        if self.inference_activation == 'relu':
            return F.relu(outputs['cam_logits'])
        return self.cams(outputs)
