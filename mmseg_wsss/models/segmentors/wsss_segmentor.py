"""One segmentor for every WSSS method in this toolbox.

    backbone -> [neck] -> cam_head ----> CAMs + class scores -> classification loss
                     |                    '-> pseudo-label generators -> decode_head losses (one per generator)
                     '-> decode_head (optional)
                     + guides: extra losses (CLIP evaluator, affinity, correspondence, ...), each weighted,
                       each with a start iteration

Every part is a registered module named in the config. ``predict`` returns standard ``SegDataSample``s:
the decoder's logits when there is a decoder (or ``test_cfg.source='decoder'``), otherwise CAMs turned into
a segmentation, so mmseg's ``IoUMetric`` and ``tools/test.py --tta`` work unchanged.
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.config import ConfigDict
from mmengine.logging import MessageHub
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor, EncoderDecoder
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import add_prefix
from torch import Tensor

from ...utils.cam_ops import add_background, mask_absent, max_normalize, multi_scale_flip_cams, restore_to_image

DEFAULT_TEST_CFG = dict(
    mode='whole',          # 'whole' or 'slide' (with crop_size, stride), as in mmseg
    source='auto',         # 'auto': decoder if there is one, else CAMs; or 'cam' / 'decoder'
    bg_thr=0.15,           # background score for CAM -> segmentation (IRNet's CAM evaluation threshold)
    cam_scales=(1.0, ),    # multi-scale CAM inference (summed before normalisation)
    cam_flip=False,        # add horizontally flipped views
    use_img_labels=True,   # restrict CAMs to the image-level labels when the sample carries them
    cls_thr=0.5,           # otherwise keep classes whose sigmoid score exceeds this
    output_cams=False,     # also attach `cams` to decoder predictions (CAM source always attaches them)
)


@dataclass
class WSSSContext:
    """What the segmentor knows about a training batch; passed to pseudo-label generators and guides."""
    inputs: Tensor                      # (B, 3, H, W), normalised and padded
    data_samples: List[SegDataSample]
    img_labels: Tensor                  # (B, K) foreground multi-hot
    feats: Sequence[Tensor]             # backbone (+ neck) outputs
    cam_outputs: Dict[str, Tensor]      # CAM head outputs (cls_logits, cam_logits, ...)
    cams: Optional[Tensor]              # (B, K, h, w) unnormalised CAMs (ReLU), with gradient
    cam_fn: Callable[[Tensor], Tensor]  # images -> unnormalised CAMs, for extra scales or views
    iter: int
    pseudo_labels: Dict[str, Tensor] = field(default_factory=dict)  # filled by the generators, by name
    cache: dict = field(default_factory=dict)  # shared results between guides (e.g. teacher features)


def current_iter() -> int:
    """The runner's current iteration (0 outside a runner)."""
    return int(MessageHub.get_current_instance().get_info('iter', 0) or 0)


def _pop_schedule(cfg: dict, default_name: str):
    cfg = dict(cfg)
    weight = float(cfg.pop('loss_weight', 1.0))
    start = int(cfg.pop('start_iter', 0))
    name = cfg.pop('name', default_name)
    return cfg, weight, start, name


def _weighted(outputs: Dict[str, Tensor], weight: float, prefix: str) -> Dict[str, Tensor]:
    """Scale the loss terms (keys starting with 'loss') of a component and prefix all its keys."""
    return add_prefix({k: v * weight if k.startswith('loss') else v for k, v in outputs.items()}, prefix)


@MODELS.register_module()
class WSSSSegmentor(EncoderDecoder):
    """Segmentor configured from a backbone, a CAM head and optional decoder, pseudo labels and guides.

    Args:
        backbone (dict): backbone config.
        cam_head (dict, optional): CAM head config (e.g. ``CAMHead``); its ``num_classes`` counts foreground
            classes only.
        neck (dict, optional): neck config; its outputs feed both heads.
        decode_head (dict, optional): any mmseg decode head, trained on pseudo labels; its ``num_classes``
            counts background too.
        pseudo_labels (list[dict], optional): pseudo-label generators. Each takes the batch context and returns
            (B, H, W) labels (255 = ignore); each gives one decode-head loss. Keys ``loss_weight`` (default 1),
            ``start_iter`` (default 0) and ``name`` are read by the segmentor.
        guides (list[dict], optional): extra loss modules ``forward(ctx) -> dict of losses``, with the same
            ``loss_weight`` / ``start_iter`` / ``name`` keys. Before ``start_iter`` a term is not computed and
            is logged as 0 (set ``find_unused_parameters=True`` for DDP if that leaves parameters unused).
        cam_loss_weight (float): weight of the CAM head's classification loss.
        train_cfg, test_cfg (dict): see ``DEFAULT_TEST_CFG`` for the test keys.
    """

    def __init__(self,
                 backbone: dict,
                 cam_head: Optional[dict] = None,
                 neck: Optional[dict] = None,
                 decode_head: Optional[dict] = None,
                 pseudo_labels: Optional[List[dict]] = None,
                 guides: Optional[List[dict]] = None,
                 cam_loss_weight: float = 1.0,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg=None):
        # EncoderDecoder's own __init__ insists on a decode head; we reuse its inference code only.
        BaseSegmentor.__init__(self, data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if cam_head is None and decode_head is None:
            raise ValueError('WSSSSegmentor needs a cam_head, a decode_head, or both')
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.cam_head = MODELS.build(cam_head) if cam_head is not None else None
        self.auxiliary_head = None
        if decode_head is not None:
            self._init_decode_head(decode_head)  # sets decode_head, align_corners, num_classes, out_channels
        else:
            self.decode_head = None
            self.align_corners = False
            self.num_classes = self.cam_head.num_classes + 1
            self.out_channels = self.num_classes
        if self.cam_head is not None and self.cam_head.num_classes + 1 != self.num_classes:
            raise ValueError(f'cam_head.num_classes ({self.cam_head.num_classes}, foreground) + 1 must equal '
                             f'decode_head.num_classes ({self.num_classes}, with background)')
        self.cam_loss_weight = cam_loss_weight

        self.pseudo_label_generators = nn.ModuleList()
        self._pl_schedule = []
        for i, cfg in enumerate(pseudo_labels or []):
            cfg, w, s, name = _pop_schedule(cfg, f'pl{i}' if i else 'cam')
            self.pseudo_label_generators.append(MODELS.build(cfg))
            self._pl_schedule.append((w, s, name))
        if self.decode_head is not None and not self._pl_schedule:
            raise ValueError('a decode_head needs at least one pseudo-label generator (`pseudo_labels=[...]`)')
        self.guides = nn.ModuleList()
        self._guide_schedule = []
        for i, cfg in enumerate(guides or []):
            cfg, w, s, name = _pop_schedule(cfg, f'guide{i}')
            self.guides.append(MODELS.build(cfg))
            self._guide_schedule.append((w, s, name))

        self.train_cfg = ConfigDict(train_cfg or {})
        self.test_cfg = ConfigDict({**DEFAULT_TEST_CFG, **(test_cfg or {})})
        if self.test_cfg.source not in ('auto', 'cam', 'decoder'):
            raise ValueError(f'test_cfg.source must be auto, cam or decoder, got {self.test_cfg.source!r}')

    # ------------------------------------------------------------------ features and CAMs
    def extract_feat(self, inputs: Tensor):
        x = self.backbone(inputs)
        return self.neck(x) if self.neck is not None else x

    def raw_cams(self, inputs: Tensor) -> Tensor:
        """Images -> unnormalised CAMs (B, K, h, w)."""
        return self.cam_head.cams(self.cam_head(self.extract_feat(inputs)))

    @property
    def predict_source(self) -> str:
        src = self.test_cfg.source
        if src == 'auto':
            return 'decoder' if self.decode_head is not None else 'cam'
        if src == 'decoder' and self.decode_head is None:
            raise ValueError("test_cfg.source='decoder' but the model has no decode_head")
        if src == 'cam' and self.cam_head is None:
            raise ValueError("test_cfg.source='cam' but the model has no cam_head")
        return src

    def _labels_for(self, metas: List[dict], cls_logits_fn: Callable[[], Tensor], device) -> Optional[Tensor]:
        """Foreground multi-hot labels for inference: the sample's own labels, else the classifier's."""
        K = self.num_classes - 1
        if self.test_cfg.use_img_labels and all('img_labels' in m for m in metas):
            labels = torch.zeros(len(metas), K, device=device)
            for i, m in enumerate(metas):
                ids = [c - 1 for c in m['img_labels'] if 0 < c <= K]
                labels[i, ids] = 1
            return labels
        return (cls_logits_fn().sigmoid() > self.test_cfg.cls_thr).float()

    def cam_inference(self, inputs: Tensor, metas: List[dict]) -> Tensor:
        """Normalised CAMs (B, K, H, W) at the input size, restricted to the image's classes."""
        seen = {}

        def cam_fn(x):
            out = self.cam_head(self.extract_feat(x))
            if x.shape == inputs.shape and 'cls_logits' not in seen:  # the first, unflipped full-size view
                seen['cls_logits'] = out['cls_logits']
            return self.cam_head.cams(out)

        cams = multi_scale_flip_cams(cam_fn, inputs, self.test_cfg.cam_scales, self.test_cfg.cam_flip,
                                     self.align_corners)

        def cls_logits():
            if 'cls_logits' not in seen:  # no full-size view among the scales
                seen['cls_logits'] = self.cam_head(self.extract_feat(inputs))['cls_logits']
            return seen['cls_logits']

        return mask_absent(max_normalize(cams), self._labels_for(metas, cls_logits, inputs.device))

    def cams_to_logits(self, cams: Tensor) -> Tensor:
        """Segmentation logits from normalised CAMs: log of [bg_thr, cams]. Their softmax is the normalised
        score vector, so argmax and SegTTAModel's softmax averaging both behave."""
        return torch.log(add_background(cams, self.test_cfg.bg_thr).clamp_min(1e-6))

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """Segmentation logits at the input size (used by whole and slide inference)."""
        if self.predict_source == 'cam':
            return self.cams_to_logits(self.cam_inference(inputs, batch_img_metas))
        return self.decode_head.predict(self.extract_feat(inputs), batch_img_metas, self.test_cfg)

    # ------------------------------------------------------------------ inference
    def predict(self, inputs: Tensor, data_samples: Optional[List[SegDataSample]] = None):
        if data_samples is not None:
            metas = [s.metainfo for s in data_samples]
        else:
            metas = [dict(ori_shape=inputs.shape[2:], img_shape=inputs.shape[2:], pad_shape=inputs.shape[2:],
                          padding_size=[0, 0, 0, 0])] * inputs.shape[0]
        source = self.predict_source
        want_cams = source == 'cam' or (self.cam_head is not None and self.test_cfg.output_cams)
        cams = self.cam_inference(inputs, metas) if want_cams else None
        if source == 'cam' and self.test_cfg.mode == 'whole':
            seg_logits = self.cams_to_logits(cams)
        else:
            seg_logits = self.inference(inputs, metas)
        results = self.postprocess_result(seg_logits, data_samples)
        if cams is not None:
            for i, res in enumerate(results):
                res.cams = PixelData(data=restore_to_image(cams[i], metas[i], self.align_corners))
        return results

    def _forward(self, inputs: Tensor, data_samples=None):
        feats = self.extract_feat(inputs)
        out = {}
        if self.cam_head is not None:
            out.update(self.cam_head(feats))
        if self.decode_head is not None:
            out['seg_logits'] = self.decode_head.forward(feats)
        return out

    # ------------------------------------------------------------------ training
    def _img_labels(self, data_samples: List[SegDataSample]) -> Tensor:
        if not all('gt_img_labels' in s for s in data_samples):
            raise KeyError('training samples carry no `gt_img_labels`: the train pipeline needs '
                           'LoadImageLevelLabels and PackWSSSInputs')
        labels = torch.stack([s.gt_img_labels for s in data_samples]).float()
        if labels.shape[1] != self.num_classes:
            raise ValueError(f'the dataset has {labels.shape[1]} classes but the model has {self.num_classes} '
                             '(num_classes of cam_head + 1 / decode_head must match the dataset)')
        return labels[:, 1:]

    @staticmethod
    def _ignore_padding(labels: Tensor, data_samples, ignore_index: int = 255) -> Tensor:
        for i, s in enumerate(data_samples):
            h, w = s.metainfo.get('img_shape', labels.shape[-2:])[:2]
            labels[i, h:, :] = ignore_index
            labels[i, :, w:] = ignore_index
        return labels

    def loss(self, inputs: Tensor, data_samples: List[SegDataSample]) -> Dict[str, Tensor]:
        it = current_iter()
        img_labels = self._img_labels(data_samples)
        feats = self.extract_feat(inputs)
        losses = {}
        cam_outputs, cams = {}, None
        if self.cam_head is not None:
            cam_outputs = self.cam_head(feats)
            cams = self.cam_head.cams(cam_outputs)
            cam_losses = self.cam_head.loss_by_feat(cam_outputs, img_labels)
            losses.update({k: v * self.cam_loss_weight for k, v in cam_losses.items()})
        ctx = WSSSContext(inputs=inputs, data_samples=data_samples, img_labels=img_labels, feats=feats,
                          cam_outputs=cam_outputs, cams=cams, cam_fn=self.raw_cams, iter=it)

        for gen, (w, start, name) in zip(self.pseudo_label_generators, self._pl_schedule):
            if it < start:
                losses[f'decode_{name}.loss_ce'] = inputs.new_zeros(())
                continue
            labels = self._ignore_padding(gen(ctx).long(), data_samples)
            ctx.pseudo_labels[name] = labels
            samples = [SegDataSample(metainfo=s.metainfo, gt_sem_seg=PixelData(data=labels[i:i + 1]))
                       for i, s in enumerate(data_samples)]
            losses.update(_weighted(self.decode_head.loss(feats, samples, self.train_cfg), w, f'decode_{name}'))

        for guide, (w, start, name) in zip(self.guides, self._guide_schedule):
            if it < start:
                losses[f'{name}.loss'] = inputs.new_zeros(())
                continue
            losses.update(_weighted(guide(ctx), w, name))
        return losses
