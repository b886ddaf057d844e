import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from ...utils.cam_ops import cams_to_pseudo_labels, max_normalize, multi_scale_flip_cams


@MODELS.register_module()
class CAMPseudoLabel(nn.Module):
    """Online pseudo labels from the current CAMs for training a decoder (single-stage methods, e.g. AFA).

    CAMs of the batch (optionally re-computed at extra ``scales`` without gradient, as AFA does with
    (1.0, 0.5)) are upsampled to the input size, max-normalised, restricted to the image's labels and cut with
    an uncertain band: foreground above ``high_thr``, background below ``low_thr``, ``ignore_index`` between
    (AFA: 0.55 / 0.35). With ``high_thr == low_thr`` it is a hard background threshold.
    """

    def __init__(self, high_thr: float = 0.55, low_thr: float = 0.35, scales=(1.0, ), ignore_index: int = 255):
        super().__init__()
        if low_thr > high_thr:
            raise ValueError(f'low_thr ({low_thr}) must not exceed high_thr ({high_thr})')
        self.high_thr, self.low_thr = high_thr, low_thr
        self.scales = tuple(scales)
        self.ignore_index = ignore_index

    @torch.no_grad()
    def forward(self, ctx) -> Tensor:
        H, W = ctx.inputs.shape[-2:]
        if self.scales == (1.0, ):
            cams = F.interpolate(ctx.cams.detach(), size=(H, W), mode='bilinear', align_corners=False)
        else:
            cams = multi_scale_flip_cams(ctx.cam_fn, ctx.inputs, self.scales, flip=False)
        return cams_to_pseudo_labels(max_normalize(cams), ctx.img_labels, self.high_thr, self.low_thr,
                                     self.ignore_index)
