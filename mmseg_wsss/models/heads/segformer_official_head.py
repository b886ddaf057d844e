import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads import SegformerHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS


@MODELS.register_module()
class SegformerOfficialHead(SegformerHead):
    """SegFormer's MLP decoder in the layout of the official SegFormer code, which AFA's and ECA's official code use
    (their ``SegFormerHead``): each level's features go through a plain linear projection with bias (no norm, no
    activation), are resized to the first level, and are concatenated from the coarsest to the finest (c4, c3, c2,
    c1) before the fusion conv (conv + BN + ReLU), dropout and the classifier.

    mmseg's ``SegformerHead`` puts norm + activation on every level's 1x1 conv and concatenates c1..c4, so a
    checkpoint trained with the official code does not map onto it; this head is the same module with the
    official layout, so that ``tools/model_converters/afa2mmseg.py`` can move such checkpoints over
    (``--cfg-options model.decode_head.type=SegformerOfficialHead``). Parameters: ``convs.i.conv`` (weight and
    bias; ``linear_c{i+1}.proj`` of the official file), ``fusion_conv`` and ``conv_seg`` as in mmseg.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.convs = nn.ModuleList(
            ConvModule(c, self.channels, kernel_size=1, bias=True, norm_cfg=None, act_cfg=None)
            for c in self.in_channels)

    def forward(self, inputs):
        inputs = self._transform_inputs(inputs)
        outs = [resize(conv(x), size=inputs[0].shape[2:], mode=self.interpolate_mode,
                       align_corners=self.align_corners) for x, conv in zip(inputs, self.convs)]
        return self.cls_seg(self.fusion_conv(torch.cat(outs[::-1], dim=1)))
