from typing import Dict

import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import nn

from ..tokens import token_request
from .cam_head import check_pool, pooled_logits


@MODELS.register_module()
class AuxCAMHead(BaseModule):
    """An auxiliary CAM classifier on an intermediate ViT block's patch tokens (ToCo's ``aux_classifier`` on block
    -3; DALNet's reconstruction 6, alternative: the object-aware mask from this head's CAMs instead of the
    block-10 patch-text map, trained by its own classification loss, option 9).

    A named part (``heads=dict(aux=dict(type='AuxCAMHead', tokens=9, ...))``): a bias-free 1x1 classifier on the
    raw (width C) patch tokens of block ``tokens`` (backbone extras ``tokens.<i>``), global ``pool``ing for the
    image logits. Outputs, in ``ctx.head_outputs[name]``: ``cam_logits`` (B, K, h, w), ``cls_logits`` (B, K) and
    ``cams`` = ReLU(cam_logits). ``map_outputs`` declares the maps ``<name>.cams`` (relu) and
    ``<name>.cam_logits`` (logits), so a ``CAMPseudoLabel(cams='aux.cams', high_thr=beta, low_thr=beta)`` makes
    the mask from them and ``CAMClassificationLoss(head='aux')`` trains the classifier.

    Args:
        tokens (int): the ViT block (0-based; the paper's block 10 of 12 is 9).
        in_channels (int): the block's width (768 for ViT-B/16).
        num_classes (int): foreground classes.
        pool (str): 'max' (ToCo's global max pooling) or 'avg'.
    """
    map_outputs = {'cams': 'relu', 'cam_logits': 'logits'}

    def __init__(self, tokens: int = 9, in_channels: int = 768, num_classes: int = 20, pool: str = 'max',
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        token_request(tokens)
        self.tokens, self.in_channels, self.num_classes = tokens, in_channels, num_classes
        self.pool = check_pool(pool)
        self.classifier = nn.Conv2d(in_channels, num_classes, 1, bias=False)

    def extra_requests(self):
        return (token_request(self.tokens), 'grid')

    def forward(self, feats, extras: Dict[str, object]) -> Dict[str, object]:
        patches = extras['tokens'][self.tokens]['patches']  # (B, N, C), before the final norm
        if patches.shape[-1] != self.in_channels:
            raise ValueError(f'AuxCAMHead(in_channels={self.in_channels}) got tokens of width {patches.shape[-1]} '
                             f'from block {self.tokens}')
        h, w = extras['grid']
        x = patches.transpose(1, 2).reshape(patches.shape[0], -1, h, w)
        cam_logits = self.classifier(x)
        return dict(cam_logits=cam_logits, cls_logits=pooled_logits(self.classifier, x, self.pool),
                    cams=F.relu(cam_logits))
