"""A loss term added by a project, not by ``mmseg_wsss``: flip equivariance of the CAMs.

SEAM (Wang et al., *Self-supervised Equivariant Attention Mechanism for Weakly Supervised Semantic Segmentation*,
CVPR 2020, Sec. 3.2, the equivariant regularisation) asks the CAMs of a transformed image to equal the
transformed CAMs: ``R_ER = || A(T(I)) - T(A(I)) ||_1``. SEAM's T is a rescaling; this example uses the horizontal
flip, for which T is its own inverse: ``|| T(A(T(I))) - A(I) ||_1``.
"""
from typing import Dict, Optional

from mmseg.registry import MODELS
from torch import Tensor

from mmseg_wsss.models.maps import MapRequest
from mmseg_wsss.models.parts import BaseLossTerm


def flip_consistency_loss(cams: Tensor, cams_of_flipped: Tensor, img_labels: Optional[Tensor] = None) -> Tensor:
    """SEAM's equivariant regularisation with T = horizontal flip: the mean absolute difference between the CAMs
    ``A(I)`` (B, K, h, w) and the CAMs of the flipped images flipped back, ``T(A(T(I)))`` (B, K, h, w), over the
    pixels; averaged over the (image, class) pairs of the image labels (B, K) when given (a class absent from an
    image has no CAM to keep consistent), else over every pair."""
    diff = (cams - cams_of_flipped.flip(-1)).abs().mean(dim=(2, 3))  # (B, K)
    if img_labels is None:
        return diff.mean()
    w = img_labels.to(diff.dtype)
    return (diff * w).sum() / w.sum().clamp_min(1.0)


@MODELS.register_module()
class FlipConsistencyLoss(BaseLossTerm):
    """The flip-equivariance term of :func:`flip_consistency_loss` on the CAM head's CAMs (``'cams'``, of kind
    relu or sigmoid: the CAM head's own). It runs the backbone and CAM head once more, on the flipped batch
    (``ctx.cam_views``), with gradients through both views.

    Args:
        present_only (bool): average over the image labels' classes (default) or over every class.
    """

    def __init__(self, present_only: bool = True):
        super().__init__()
        self.present_only = present_only

    def map_requests(self):
        return (MapRequest('cams', ('relu', 'sigmoid'), 'cams'), )

    def forward(self, ctx, labels=None) -> Dict[str, Tensor]:
        cams = ctx.map('cams', ('relu', 'sigmoid'))
        flipped = ctx.cam_views(ctx.inputs.flip(-1), 'cams')
        return dict(loss=flip_consistency_loss(cams, flipped, ctx.img_labels if self.present_only else None))
