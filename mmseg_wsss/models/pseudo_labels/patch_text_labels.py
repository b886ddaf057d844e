from typing import Optional

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from ...utils.cam_ops import minmax
from ..losses.dalnet import cam_labels, patch_text_cams
from ..maps import MapRequest
from ..parts import BasePseudoLabelSource
from ..tokens import read_grid, read_tokens, token_request


@MODELS.register_module()
class PatchTextLabels(BasePseudoLabelSource):
    """DALNet's object-aware mask (E3 [reconstructed]; block 10 and beta 0.5: supplementary): the patch-text CAM
    of one block's projected patch tokens, thresholded at ``beta``: 1 + argmax_c A_c(j) if max_c A_c(j) > beta,
    else background (:func:`~mmseg_wsss.models.losses.dalnet.cam_labels`), at patch resolution, given at the
    input size (nearest; each patch's label covers its pixels). LEA and the cross-contrastive term read it as
    their ``labels``; any other source can take its place (``labels='cam'``: the final CAM's labels, option 8).

    Args:
        text: the text encoder (needs its ``background_prompt`` only for the terms, not here).
        tokens: ViT block index (0-based: the paper's block 10 of 12 is 9; declare it in the backbone's
            ``token_blocks``) or 'final'.
        beta: the background threshold.
        mode: 'text' (default): the class CAMs of those tokens; 'class_agnostic' (option 6's alternative): the
            cosine of the block's patch tokens with its class token, min-max per image, > beta is foreground,
            labelled with the class of the final CAM map ``cams`` (normalised) at that patch.
        cams: the map read for the classes in 'class_agnostic' mode.
        image_encoder: None (default: the backbone's tokens, the tower that trains) or the name of a shared
            encoder giving tokens (``OpenCLIPImageEncoder(batch_output='tokens', token_blocks=...)``, frozen by
            default): the mask from that tower instead (ours, not the paper's: a frozen copy of the start makes a
            mask that training cannot drift). Checked when the model is built.

    Map: under its own name, the block's normalised patch-text CAMs at the input size (kind ``normalized``).
    """
    map_kind = 'normalized'

    def __init__(self, text: str = 'clip_text', tokens=9, beta: float = 0.5, mode: str = 'text',
                 cams: str = 'cams', image_encoder: Optional[str] = None, ignore_index: int = 255):
        super().__init__()
        if mode not in ('text', 'class_agnostic'):
            raise ValueError(f"mode must be 'text' or 'class_agnostic', got {mode!r}")
        token_request(tokens)
        self.text, self.tokens, self.beta, self.mode, self.cams = text, tokens, beta, mode, cams
        self.image_encoder = image_encoder
        self.ignore_index = ignore_index

    def _keys(self):
        keys = [token_request(self.tokens), 'grid']
        if self.mode == 'class_agnostic':
            keys.append(token_request(self.tokens, 'cls'))
        return tuple(dict.fromkeys(keys))

    def extra_requests(self):
        return self._keys() if self.image_encoder is None else ()

    def encoder_requests(self):
        return () if self.image_encoder is None else ((self.image_encoder, self._keys()), )

    def _tokens(self, ctx, what: str = 'patches') -> Tensor:
        return read_tokens(ctx, self.tokens, what, self.image_encoder).detach()

    def map_requests(self):
        return (MapRequest(self.cams, ('normalized', ), 'cams'), ) if self.mode == 'class_agnostic' else ()

    def patch_cams(self, ctx) -> Tensor:
        """(B, K, N) normalised patch-text CAMs of the block, restricted to the image labels."""
        text = ctx.encoded(self.text)['class_embeddings']
        return patch_text_cams(self._tokens(ctx), text, ctx.img_labels)

    def _to_input(self, x: Tensor, ctx, mode: str) -> Tensor:
        h, w = read_grid(ctx, self.image_encoder)
        x = x.reshape(x.shape[0], -1, h, w)
        return F.interpolate(x, size=ctx.inputs.shape[-2:], mode=mode,
                             **({} if mode == 'nearest' else dict(align_corners=False)))

    @torch.no_grad()
    def maps(self, ctx) -> Tensor:
        return self._to_input(self.patch_cams(ctx), ctx, 'bilinear')

    @torch.no_grad()
    def forward(self, ctx) -> Tensor:
        if self.mode == 'text':
            labels = cam_labels(self.patch_cams(ctx), self.beta)                       # (B, N)
        else:
            cls, patches = self._tokens(ctx, 'cls'), self._tokens(ctx)
            fg = minmax(torch.einsum('bnd,bd->bn', F.normalize(patches, dim=-1), F.normalize(cls, dim=-1)))
            h, w = read_grid(ctx, self.image_encoder)
            final = F.interpolate(ctx.map(self.cams, 'normalized'), size=(h, w), mode='bilinear',
                                  align_corners=False).flatten(2)                       # (B, K, N)
            final = final * ctx.img_labels[..., None]
            labels = torch.where(fg > self.beta, final.argmax(1) + 1, torch.zeros_like(fg, dtype=torch.long))
        return self._to_input(labels[:, None].float(), ctx, 'nearest')[:, 0].long()
