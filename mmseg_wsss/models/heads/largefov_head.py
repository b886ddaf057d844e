"""DeepLab-LargeFOV's head as ToCo and DALNet use it on ViT patch tokens."""
import torch.nn as nn
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS


@MODELS.register_module()
class LargeFOVHead(BaseDecodeHead):
    """DeepLab-LargeFOV (Chen et al., ICLR 2015) head: a dilated 3x3 conv (fc6) and a 1x1 conv (fc7), bias-free,
    each with ReLU, then the classifier (``conv_seg``, after mmseg's ``dropout_ratio``); no normalisation. ToCo's
    decoder on ViT-B tokens: 512 channels, dilation 5, no dropout (DALNet's segmentation branch follows ToCo's).
    ``in_index`` selects the backbone map."""

    def __init__(self, dilation: int = 5, **kwargs):
        super().__init__(**kwargs)
        self.fc6 = nn.Conv2d(self.in_channels, self.channels, 3, padding=dilation, dilation=dilation, bias=False)
        self.fc7 = nn.Conv2d(self.channels, self.channels, 1, bias=False)
        self.act = nn.ReLU(inplace=True)

    def forward(self, inputs):
        x = self._transform_inputs(inputs)
        x = self.act(self.fc6(x))
        x = self.act(self.fc7(x))
        return self.cls_seg(x)
