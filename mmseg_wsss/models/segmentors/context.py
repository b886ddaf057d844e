"""What a training batch looks like to pseudo-label sources and loss terms: data, not the segmentor.

The segmentor fills the eager fields once per batch (backbone features and extras, every head's outputs: each
network runs once); the rest is computed on first use and kept for the batch: ``images`` (RGB in [0, 1] from the
data preprocessor's own mean/std), ``encoded(name)`` (a shared encoder's output), ``pseudo_label(name)`` (a
named source's labels) and ``map(name, kinds)`` (a named map, converted to the kind the reader needs). A term or
source that is not active this iteration never triggers them.

Parts read fields and call the methods below; they never reach the segmentor. The lazy methods are served by
the segmentor's public batch services (``run_encoder``, ``run_pseudo_label``, ``produce_map``, ``map_kind``,
``run_cam_head``, ``head_loss``, ``normalize`` / ``denormalize``), which the context holds privately.
"""
from typing import Any, Dict, List, Optional, Sequence

import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from torch import Tensor

from ..maps import convert_map


class WSSSContext:
    """One training batch, as every pseudo-label source and loss term sees it.

    Attributes (eager, filled once per batch by the segmentor):
        inputs: (B, 3, H, W) images as the data preprocessor made them (normalised, padded).
        data_samples: the batch's ``SegDataSample`` s (metainfo carries ``img_labels``; seeds, when the pipeline
            loads them, as ``gt_sem_seg``).
        img_labels: (B, K) foreground multi-hot image-level labels.
        iter: the runner's iteration.
        training: whether the model is in training mode (state such as ECA's prototypes moves only then).
        feats: backbone (+ neck) outputs, what the heads consume by default.
        backbone_feats: the backbone's outputs (before the neck; ``feats`` itself without one).
        extras: what the backbone and neck expose besides their feature maps (attention logits, class and block
            tokens, WeakCLIP's score map); ``{}`` for stock mmseg backbones.
        text: the text encoder's output when the model names one (``text_encoder=``), else None.
        texts: every text encoder's output some part receives, by encoder name (``text_encoder`` and the
            heads' ``text_from``).
        cam_outputs: the CAM head's outputs (``cls_logits``, ``cam_logits``), ``{}`` without a CAM head.
        cams: (B, K, h, w) CAMs of the CAM head's ``cam_kind`` (the map ``'cams'``), with gradient. None without
            a CAM head.
        seg_logits / aux_logits: decode / auxiliary head outputs, or None.
        head_outputs: outputs of the model's named ``heads`` (AFA's ``AttentionAffinityHead``: ``affinity``,
            ``grid``), by name.
    """

    def __init__(self, inputs: Tensor, data_samples: List[SegDataSample], img_labels: Tensor, iter: int,
                 services, training: bool = True):
        self.inputs = inputs
        self.data_samples = data_samples
        self.img_labels = img_labels
        self.iter = iter
        self.training = training
        self._services = services  # the segmentor's public batch services; parts never use it directly
        self.feats: Sequence[Tensor] = ()
        self.backbone_feats: Sequence[Tensor] = ()
        self.extras: Dict[str, Any] = {}
        self.text: Optional[Dict[str, Tensor]] = None
        self.texts: Dict[str, Dict[str, Tensor]] = {}
        self.cam_outputs: Dict[str, Tensor] = {}
        self.cams: Optional[Tensor] = None
        self.seg_logits: Optional[Tensor] = None
        self.aux_logits: Optional[Tensor] = None
        self.head_outputs: Dict[str, Any] = {}
        self._images: Optional[Tensor] = None
        self._encoded: Dict[str, Any] = {}
        self._pseudo_labels: Dict[str, Tensor] = {}
        self._maps: Dict[str, Tensor] = {}

    # ---------------------------------------------------------------- images
    @property
    def images(self) -> Tensor:
        """(B, 3, H, W) RGB images in [0, 1], recovered from ``inputs`` with the data preprocessor's own mean,
        std and channel order (padding comes back as the mean colour)."""
        if self._images is None:
            self._images = self._services.denormalize(self.inputs)
        return self._images

    @property
    def image_mean(self) -> Tensor:
        """(1, 3, 1, 1) the data preprocessor's mean colour, RGB in [0, 1] (what a zero of ``inputs`` is)."""
        return self._services.denormalize(self.inputs.new_zeros(1, 3, 1, 1))

    def normalize(self, images: Tensor) -> Tensor:
        """RGB images in [0, 1] -> network inputs (the inverse of :attr:`images`), for new views of the batch."""
        return self._services.normalize(images)

    # ---------------------------------------------------------------- networks run on new views
    def cam_views(self, inputs: Tensor, output: str = 'cams') -> Tensor:
        """Network inputs (other scales or crops) -> the CAM head's ``output`` ('cams', of the kind of
        :attr:`cams`, or 'cam_logits'), with gradient: a new backbone + CAM head forward."""
        return self._services.run_cam_head(inputs, self.texts, output)

    def cam_logits_fn(self, images: Tensor) -> Tensor:
        """RGB images in [0, 1] (local views) -> the CAM head's raw ``cam_logits`` (B, K, h, w), with gradient."""
        return self.cam_views(self.normalize(images), 'cam_logits')

    def head_loss(self, head: str, logits: Tensor, labels: Tensor) -> Dict[str, Tensor]:
        """The mmseg head ``head``'s own ``loss_by_feat`` of ``logits`` against (B, H, W) labels."""
        return self._services.head_loss(head, logits, self.with_labels(labels))

    # ---------------------------------------------------------------- lazily computed, once per batch
    def encoder(self, name: str):
        """The shared encoder module ``name`` (declared under ``encoders=``), for a loss that needs a gradient
        through a frozen tower (CLIMS into the CAMs)."""
        return self._services.get_encoder(name)

    def encoded(self, name: str):
        """Output of encoder ``name`` for this batch, computed at most once.

        An encoder with an ``encode_batch(images)`` method gets :attr:`images`; one without (a text encoder)
        is called with no input. Frozen encoders run in eval mode under ``no_grad``.
        """
        if name not in self._encoded:
            self._encoded[name] = self._services.run_encoder(name, self)
        return self._encoded[name]

    def pseudo_label(self, name: str) -> Tensor:
        """(B, H, W) long labels of the pseudo-label source ``name`` (255 = ignore, padding included),
        computed at most once per batch. Sources may read other sources through this method."""
        if name not in self._pseudo_labels:
            self._pseudo_labels[name] = self._services.run_pseudo_label(name, self)
        return self._pseudo_labels[name]

    def map(self, name: str, kinds) -> Tensor:
        """The named map (see :mod:`mmseg_wsss.models.maps`) as the first of ``kinds`` its producer's kind
        converts to (the join was checked when the model was built). Made once per batch; gradients flow
        where the producer has them (the CAM head's maps)."""
        if name not in self._maps:
            self._maps[name] = self._services.produce_map(name, self)
        src, dst = self._services.map_kind(name, kinds)
        if dst is None:
            raise ValueError(f'map {name!r} is {src}, which converts to none of {kinds}')
        return convert_map(self._maps[name], src, dst)

    def map_kind(self, name: str, kinds) -> str:
        """The kind among ``kinds`` that :meth:`map` returns for ``name``."""
        return self._services.map_kind(name, kinds)[1]

    def with_labels(self, labels: Tensor) -> List[SegDataSample]:
        """The batch's samples carrying ``labels`` (B, H, W) as ``gt_sem_seg``, for mmseg heads' losses."""
        return [SegDataSample(metainfo=s.metainfo, gt_sem_seg=PixelData(data=labels[i:i + 1]))
                for i, s in enumerate(self.data_samples)]

    @property
    def batch_size(self) -> int:
        return self.inputs.shape[0]

    @property
    def device(self) -> torch.device:
        return self.inputs.device
