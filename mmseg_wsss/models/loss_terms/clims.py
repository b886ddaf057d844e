from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from ..losses.clims import btm_loss, cbs_loss, otm_loss, reg_loss
from ..maps import MapRequest
from ..parts import BaseLossTerm


@MODELS.register_module()
class CLIMSLoss(BaseLossTerm):
    """CLIMS's text-driven evaluator (Xie et al., CVPR 2022, Sec. 3.2-3.7) as a loss term.

    For every present class k of every image, the image is masked by the CAM and by its complement
    (Eq. 4: ``X * P_k``, ``X * (1 - P_k)``). Both official code versions mask the *normalised* image, so masked-out
    pixels become the dataset's mean colour (``mask_fill='mean'``, the default); ``'black'`` masks the RGB image.
    All masked images of the batch go through the shared frozen CLIP image
    encoder in one forward, resized to its input size. Cosine similarities to the class prompt (Eqs. 7, 9) and to
    the class's co-occurring background prompts (Eq. 11) give the losses of Eqs. 6, 8, 10; Eq. 12 regularises the
    CAM area. Eq. 13 weights them with ``alpha, beta, gamma, delta`` (paper: 10, 25, 29.5, 1.15; the official code
    uses 10, 24, 1, 0.2 with ``variant='code'``). Gradients flow through the frozen image tower into the CAMs;
    the RGB images come from the data preprocessor (``ctx.images``).

    Args:
        image_encoder / text_encoder (str): names of the model's shared encoders (``OpenCLIPImageEncoder`` /
            ``OpenCLIPTextEncoder``).
        variant: 'paper' (default) or 'code' forms of the losses, see :mod:`mmseg_wsss.models.losses.clims`.
        cbs_thr: the code form's CBS similarity threshold (official: 0.26 VOC, 0.285 COCO).
        mask_fill: 'mean' (the official codes: masked pixels take the data preprocessor's mean colour) or
            'black'.
        cams (str): the map that masks the images (:mod:`mmseg_wsss.models.maps`): ``'cams'`` (the CAM head's;
            ``SigmoidCAMHead`` gives Eq. 3's sigmoid maps), ``'cam_logits'`` (any CAM head's logits, through a
            sigmoid), or any other map name of the model.
        cams_as (str): the kind the mask must have, in [0, 1]: 'sigmoid' (Eq. 3, default) or 'normalized'
            (max-normalised ReLU maps, for a CAM head whose CAMs are ReLU maps, e.g. AFA's ``CAMHead``). A map
            that cannot become this kind fails when the model is built (a ReLU map is never read as a mask).
    """

    def __init__(self,
                 image_encoder: str = 'clip_image',
                 text_encoder: str = 'clip_text',
                 alpha: float = 10.0,
                 beta: float = 25.0,
                 gamma: float = 29.5,
                 delta: float = 1.15,
                 variant: str = 'paper',
                 cbs_thr: float = 0.26,
                 mask_fill: str = 'mean',
                 cams: str = 'cams',
                 cams_as: str = 'sigmoid'):
        super().__init__()
        if cams_as not in ('sigmoid', 'normalized'):
            raise ValueError(f"cams_as must be 'sigmoid' or 'normalized' (a mask in [0, 1]), got {cams_as!r}")
        self.cams, self.cams_as = cams, cams_as
        if variant not in ('paper', 'code'):
            raise ValueError(f"variant must be 'paper' or 'code', got {variant!r}")
        if mask_fill not in ('mean', 'black'):
            raise ValueError(f"mask_fill must be 'mean' or 'black', got {mask_fill!r}")
        self.mask_fill = mask_fill
        self.image_encoder, self.text_encoder = image_encoder, text_encoder
        self.alpha, self.beta, self.gamma, self.delta = alpha, beta, gamma, delta
        self.variant, self.cbs_thr = variant, cbs_thr

    def map_requests(self):
        return (MapRequest(self.cams, (self.cams_as, ), 'cams'), )

    @staticmethod
    def masked_images(images: Tensor, cams: Tensor, batch_idx: Tensor, class_idx: Tensor,
                      fill: Optional[Tensor] = None) -> Tensor:
        """Eq. 4: foreground ``X * P_k`` then background ``X * (1 - P_k)`` for every present pair, stacked.

        With ``fill`` (1, 3, 1, 1), masking happens relative to it: ``fill + (X - fill) * P`` (what masking the
        normalised image and de-normalising gives); without, masked pixels are black."""
        p = cams[batch_idx, class_idx][:, None]
        x = images[batch_idx]
        if fill is None:
            return torch.cat([x * p, x * (1 - p)])
        return torch.cat([fill + (x - fill) * p, fill + (x - fill) * (1 - p)])

    def similarities(self, ctx, images: Tensor, cams: Tensor) -> Dict[str, Tensor]:
        """s_oo (Eq. 7), s_bo (Eq. 9) per present pair, s_ob (Eq. 11) against every background prompt;
        ``cams`` (B, K, h, w) in [0, 1] mask the images."""
        batch_idx, class_idx = ctx.img_labels.nonzero(as_tuple=True)
        n = batch_idx.numel()
        P = F.interpolate(cams, size=images.shape[-2:], mode='bilinear', align_corners=False)
        # one forward for all masked images; not under no_grad: the loss needs the gradient to the CAMs
        fill = ctx.image_mean if self.mask_fill == 'mean' else None
        emb = ctx.encoder(self.image_encoder).encode(self.masked_images(images, P, batch_idx, class_idx, fill))
        v_io, v_ib = emb[:n], emb[n:]
        text = ctx.encoded(self.text_encoder)
        v_to = text['class_embeddings'][class_idx]
        return dict(
            s_oo=(v_io * v_to).sum(-1),
            s_bo=(v_ib * v_to).sum(-1),
            s_ob=v_io @ text['bg_embeddings'].t(),
            owner_mask=((text['bg_owner'][None] == class_idx[:, None]) | (text['bg_owner'][None] == -1)).to(emb.dtype),
            batch_idx=batch_idx)

    def forward(self, ctx, labels=None) -> Dict[str, Tensor]:
        B = ctx.batch_size
        cams = ctx.map(self.cams, self.cams_as)
        loss_reg = self.delta * reg_loss(cams)
        if not ctx.img_labels.any():
            zero = cams.sum() * 0
            return dict(loss_otm=zero, loss_btm=zero, loss_cbs=zero, loss_reg=loss_reg)
        s = self.similarities(ctx, ctx.images, cams)
        b = s['batch_idx']
        return dict(
            loss_otm=self.alpha * otm_loss(s['s_oo'], b, B, self.variant),
            loss_btm=self.beta * btm_loss(s['s_bo'], b, B, self.variant),
            loss_cbs=self.gamma * cbs_loss(s['s_ob'], s['owner_mask'], b, B, self.variant, self.cbs_thr),
            loss_reg=loss_reg,
            s_oo=s['s_oo'].detach().mean(),
            s_bo=s['s_bo'].detach().mean())
