"""The camera-ready CLIMS CAM head (CVI-SZU/CLIMS ``previous_version/models/clip_resnet.py``): a residual
bottleneck with LeakyReLU in front of a 1x1 classifier that has a background channel."""
from typing import Dict

import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from .sigmoid_cam_head import SigmoidCAMHead


class LeakyBottleneck(nn.Module):
    """A ResNet bottleneck without downsampling (1x1 -> 3x3 -> 1x1, BN after each, identity shortcut) whose
    activations are LeakyReLU (slope ``negative_slope``), as the camera-ready CLIMS head's."""

    def __init__(self, channels: int = 2048, mid_channels: int = 512, negative_slope: float = 0.01):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, mid_channels, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid_channels)
        self.conv2 = nn.Conv2d(mid_channels, mid_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid_channels)
        self.conv3 = nn.Conv2d(mid_channels, channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels)
        self.act = nn.LeakyReLU(negative_slope)

    def forward(self, x: Tensor) -> Tensor:
        out = self.act(self.bn1(self.conv1(x)))
        out = self.act(self.bn2(self.conv2(out)))
        return self.act(self.bn3(self.conv3(out)) + x)


@MODELS.register_module()
class BottleneckCAMHead(SigmoidCAMHead):
    """CLIMS's camera-ready CAM head (the model of the paper's 56.6 CAM mIoU): ``LeakyBottleneck`` (2048 -> 512 ->
    2048) then a 1x1 classifier without bias to ``num_classes + 1`` channels, channel 0 being a background
    score. As :class:`SigmoidCAMHead` otherwise: the CAMs are the foreground channels, ``sigmoid`` in training (the
    camera-ready code's ``torch.sigmoid(cam)``), ``ReLU`` at inference (its ``inference_cam.py``:
    ``F.relu(model(x)[:, 1:])``); ``cls_logits`` are their spatial max. The background channel is in
    ``bg_logits`` and in no CAM.

    Maps: as ``SigmoidCAMHead`` (``'cams'`` sigmoid, ``'cam_logits'`` the K foreground logits).
    """

    def __init__(self, in_channels: int = 2048, num_classes: int = 20, mid_channels: int = 512,
                 negative_slope: float = 0.01, in_index: int = -1, inference_activation: str = 'relu',
                 init_cfg=dict(type='Normal', std=0.01, layer='Conv2d')):
        super().__init__(in_channels, num_classes, in_index=in_index, bias=False,
                         inference_activation=inference_activation, init_cfg=init_cfg)
        self.bottleneck = LeakyBottleneck(in_channels, mid_channels, negative_slope)
        self.classifier = nn.Conv2d(in_channels, num_classes + 1, 1, bias=False)

    def forward(self, feats) -> Dict[str, Tensor]:
        logits = self.classifier(self.bottleneck(self._select(feats)))
        cam_logits = logits[:, 1:]
        return dict(cls_logits=F.adaptive_max_pool2d(cam_logits, 1).flatten(1), cam_logits=cam_logits,
                    bg_logits=logits[:, :1])
