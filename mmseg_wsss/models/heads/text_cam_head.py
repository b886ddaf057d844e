"""DALNet's CAM head: a classifier for L_cls and patch-text CAMs (papers/facts/dalnet.md, reconstruction 5)."""
from typing import Dict, Sequence

from mmseg.registry import MODELS
from torch import Tensor

from ..losses.dalnet import cosine
from .cam_head import CAMHead, pooled_logits


@MODELS.register_module()
class TextCAMHead(CAMHead):
    """A CAM head whose CAMs are the patch-text similarities (DALNet), with a classifier for the image-level loss.

    ``cls_logits`` (B, K): a bias-free 1x1 classifier on ``feats[in_index]`` (the final patch tokens before the
    projection), global ``pool``-ed (ToCo's L_cls, which DALNet needs because no alignment term separates a
    present class from an absent one). ``cam_logits`` (B, K, h, w): with ``cam_source='text'`` (default), the
    cosine of the projected patch tokens ``feats[text_index]`` (the backbone's ``proj_indices`` map) with the
    class text embeddings (``text['class_embeddings']``), so CAMs = relu(cos), the reconstruction's
    A_c = relu(cos(p_j, t_c)) before the per-class max normalisation every CAM reader applies; with
    ``cam_source='classifier'``, the classifier's map (the alternative).

    Takes the text encoder's output (``accepts_text``): the model names a ``text_encoder``.
    Maps: ``'cams'`` (relu) and ``'cam_logits'`` (logits; cosines for the text source).
    """
    accepts_text = True

    def __init__(self, in_channels: int, num_classes: int, in_index: int = 0, text_index: int = -1,
                 cam_source: str = 'text', pool: str = 'max', bias: bool = False,
                 init_cfg=dict(type='Normal', std=0.01, layer='Conv2d')):
        super().__init__(in_channels, num_classes, in_index=in_index, pool=pool, bias=bias, init_cfg=init_cfg)
        if cam_source not in ('text', 'classifier'):
            raise ValueError(f"cam_source must be 'text' or 'classifier', got {cam_source!r}")
        self.text_index = text_index
        self.cam_source = cam_source

    def forward(self, inputs: Sequence) -> Dict[str, Tensor]:
        feats, text = inputs
        x = feats[self.in_index]
        out = dict(cls_logits=pooled_logits(self.classifier, x, self.pool))
        if self.cam_source == 'classifier':
            out['cam_logits'] = self.classifier(x)
        else:
            p = feats[self.text_index]  # (B, D, h, w) projected patch tokens
            emb = text['class_embeddings']
            if p.shape[1] != emb.shape[1]:
                raise ValueError(f'TextCAMHead: feats[{self.text_index}] has {p.shape[1]} channels but the text '
                                 f'embeddings {emb.shape[1]}: set the backbone\'s proj_indices')
            out['cam_logits'] = cosine(p.permute(0, 2, 3, 1), emb).permute(0, 3, 1, 2)
        return out
