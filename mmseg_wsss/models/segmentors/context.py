"""What a training batch looks like to pseudo-label sources and loss terms.

The segmentor fills the eager part once per batch (backbone features and extras, CAM head outputs, decoder and
auxiliary logits: each network runs once); the rest is computed on first use and kept for the batch:
``images`` (RGB in [0, 1] from the data preprocessor's own mean/std), ``encoded(name)`` (a shared auxiliary
network's output) and ``pseudo_label(name)`` (a named pseudo-label source's labels). A term or source that is
not active this iteration never triggers them.
"""
from typing import Any, Dict, List, Optional, Sequence

import torch
from mmseg.structures import SegDataSample
from torch import Tensor


class WSSSContext:
    """One training batch, as every pseudo-label source and loss term sees it.

    Attributes (eager):
        inputs: (B, 3, H, W) images as the data preprocessor made them (normalised, padded).
        data_samples: the batch's ``SegDataSample`` s (metainfo carries ``img_labels``).
        img_labels: (B, K) foreground multi-hot image-level labels.
        iter: the runner's iteration.
        feats: backbone (+ neck) outputs, what the heads consume.
        extras: what the backbone exposes besides its feature maps (attention logits, class token, ...);
            ``{}`` for stock mmseg backbones.
        text: the text encoder's output when the model names one (``text_encoder=``), else None.
        cam_outputs: the CAM head's outputs (``cls_logits``, ``cam_logits``), ``{}`` without a CAM head.
        cams: (B, K, h, w) CAMs as the CAM head defines them, with gradient: ReLU(W^T Z) for ``CAMHead``,
            sigmoid(W^T Z) for ``SigmoidCAMHead``. None without a CAM head.
        seg_logits / aux_logits: decode / auxiliary head outputs (computed once), or None.
        segmentor: the model, for terms that score a head's output with the head's own loss.

    Methods: :meth:`cam_fn` (extra scales or views, a new forward), :attr:`images`, :meth:`encoder`,
    :meth:`encoded`, :meth:`pseudo_label` (lazy, once per batch), :meth:`with_labels`.
    """

    def __init__(self, inputs: Tensor, data_samples: List[SegDataSample], img_labels: Tensor, iter: int,
                 segmentor):
        self.inputs = inputs
        self.data_samples = data_samples
        self.img_labels = img_labels
        self.iter = iter
        self.segmentor = segmentor  # terms reach heads through it (e.g. ``ctx.segmentor.decode_head``)
        # filled by the segmentor, each network run once
        self.feats: Sequence[Tensor] = ()
        self.extras: Dict[str, Any] = {}
        self.text: Optional[Dict[str, Tensor]] = None
        self.cam_outputs: Dict[str, Tensor] = {}
        self.cams: Optional[Tensor] = None
        self.seg_logits: Optional[Tensor] = None
        self.aux_logits: Optional[Tensor] = None
        self._images: Optional[Tensor] = None
        self._encoded: Dict[str, Any] = {}
        self._pseudo_labels: Dict[str, Tensor] = {}
        # intermediate results that several sources / terms share within the batch (e.g. normalised multi-scale
        # CAMs, a predicted affinity), keyed by their producer
        self.cache: Dict[str, Any] = {}

    def cam_fn(self, images: Tensor) -> Tensor:
        """Images -> CAMs of the same kind as :attr:`cams`, for extra scales or views (a new forward)."""
        return self.segmentor.raw_cams(images, self.text)

    def cam_logits_fn(self, images: Tensor) -> Tensor:
        """Images (RGB in [0, 1]) -> the CAM head's raw ``cam_logits`` (B, K, h, w), with gradient (local views)."""
        feats, _ = self.segmentor._features(self.segmentor.normalize(images), self.text)
        return self.segmentor._run_part(self.segmentor.cam_head, feats, self.text)['cam_logits']

    # ---------------------------------------------------------------- lazily computed, once per batch
    @property
    def images(self) -> Tensor:
        """(B, 3, H, W) RGB images in [0, 1], recovered from ``inputs`` with the data preprocessor's own mean,
        std and channel order (padding comes back as the mean colour)."""
        if self._images is None:
            self._images = self.segmentor.denormalize(self.inputs)
        return self._images

    @property
    def image_mean(self) -> Tensor:
        """(1, 3, 1, 1) the data preprocessor's mean colour, RGB in [0, 1] (what a zero of ``inputs`` is)."""
        return self.segmentor.denormalize(self.inputs.new_zeros(1, 3, 1, 1))

    def encoder(self, name: str):
        """The shared auxiliary network ``name`` (declared under ``encoders=`` in the model config)."""
        return self.segmentor.get_encoder(name)

    def encoded(self, name: str):
        """Output of encoder ``name`` for this batch, computed at most once.

        An encoder with an ``encode_batch(images)`` method gets :attr:`images`; one without (a text encoder)
        is called with no input. Frozen encoders run in eval mode under ``no_grad``.
        """
        if name not in self._encoded:
            self._encoded[name] = self.segmentor.run_encoder(name, self)
        return self._encoded[name]

    def pseudo_label(self, name: str) -> Tensor:
        """(B, H, W) long labels of the pseudo-label source ``name`` (255 = ignore, padding included),
        computed at most once per batch. Sources may read other sources through this method."""
        if name not in self._pseudo_labels:
            self._pseudo_labels[name] = self.segmentor.run_pseudo_label(name, self)
        return self._pseudo_labels[name]

    @property
    def computed_pseudo_labels(self) -> Dict[str, Tensor]:
        """The sources computed so far in this batch, by name (read-only view for hooks and tests)."""
        return dict(self._pseudo_labels)

    def with_labels(self, labels: Tensor) -> List[SegDataSample]:
        """The batch's samples carrying ``labels`` (B, H, W) as ``gt_sem_seg``, for mmseg heads' losses."""
        from mmengine.structures import PixelData
        return [SegDataSample(metainfo=s.metainfo, gt_sem_seg=PixelData(data=labels[i:i + 1]))
                for i, s in enumerate(self.data_samples)]

    @property
    def batch_size(self) -> int:
        return self.inputs.shape[0]

    @property
    def device(self) -> torch.device:
        return self.inputs.device
