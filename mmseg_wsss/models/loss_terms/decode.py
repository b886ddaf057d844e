from typing import Dict

import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from ...utils.labels import image_region
from ..losses.dense_energy import dense_energy_loss
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


@MODELS.register_module()
class DenseEnergyLoss(BaseLossTerm):
    """ToCo's dense-CRF energy regulariser on the decoder's softmax (``losses.dense_energy.dense_energy_loss``;
    DALNet's option 9 alternative, ToCo's ``w_reg`` 0.05 as the term's ``weight``): the decoder logits upsampled
    to the input size, the images' colours in 0..255, the ROI the unpadded image, the gate open (1) where the
    term's ``labels`` (the decoder's pseudo labels) are 255.

    Args:
        sigma_rgb / sigma_xy / scale: ToCo's 15 / 100 / 0.5 (sigma_xy in input pixels; the energy is computed at
            ``scale`` of the input).
        layer_weight: ToCo's ``DenseEnergyLoss(weight=1e-7)`` (the energy sums over all pixel pairs), applied
            before the term's ``weight``.
        gate / grad / chunk: see ``dense_energy_loss``.
        head: the mmseg head whose logits are regularised.
    """

    def __init__(self, sigma_rgb: float = 15.0, sigma_xy: float = 100.0, scale: float = 0.5,
                 layer_weight: float = 1e-7, gate: bool = True, grad: str = 'code', chunk: int = 2048,
                 head: str = 'decode_head', ignore_index: int = 255):
        super().__init__()
        if head not in HEAD_LOGITS:
            raise ValueError(f'head must be one of {sorted(HEAD_LOGITS)}, got {head!r}')
        if grad not in ('exact', 'code'):
            raise ValueError(f"grad must be 'exact' or 'code', got {grad!r}")
        self.sigma_rgb, self.sigma_xy, self.scale, self.layer_weight = sigma_rgb, sigma_xy, scale, layer_weight
        self.gate, self.grad, self.chunk, self.head, self.ignore_index = gate, grad, chunk, head, ignore_index

    def head_requests(self):
        return (self.head, )

    def forward(self, ctx, labels=None) -> Dict[str, Tensor]:
        images = ctx.images * 255
        H, W = images.shape[-2:]
        logits = F.interpolate(getattr(ctx, HEAD_LOGITS[self.head]), size=(H, W), mode='bilinear',
                               align_corners=False)
        roi = image_region(ctx.data_samples, (H, W), images.device).float()
        unlabeled = None if labels is None else labels == self.ignore_index
        loss = dense_energy_loss(logits.softmax(1), images, roi, unlabeled, self.sigma_rgb, self.sigma_xy,
                                 self.scale, self.gate, self.grad, self.chunk)
        return dict(loss=self.layer_weight * loss)
