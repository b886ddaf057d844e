"""CAM operations shared by every method: normalisation, aggregation, background, pseudo labels.

Conventions: ``cams`` are foreground maps of shape (B, K, H, W) (K = number of foreground classes, class k
here is segmentation id k + 1); ``img_labels`` are multi-hot (B, K) foreground labels. Segmentation ids put
background at 0.
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .labels import resize_labels


def max_normalize(cams: Tensor, eps: float = 1e-5) -> Tensor:
    """ReLU then per-image, per-class max normalisation to [0, 1] (CAM, Zhou et al. 2016; IRNet)."""
    cams = F.relu(cams)
    peak = cams.flatten(-2).max(dim=-1)[0][..., None, None]
    return cams / (peak + eps)


def minmax(x: Tensor, eps: float = 1e-5) -> Tensor:
    """Min-max normalisation over the last dimension: (x - min) / (max - min + eps) (ECA's 'min-max
    normalization', on flattened grids)."""
    low = x.min(dim=-1, keepdim=True)[0]
    return (x - low) / (x.max(dim=-1, keepdim=True)[0] - low + eps)


def minmax_normalize(cams: Tensor, eps: float = 1e-5) -> Tensor:
    """ReLU then per-image, per-class min-max normalisation to [0, 1] (AFA / ECA training-time CAMs)."""
    cams = F.relu(cams)
    return minmax(cams.flatten(-2), eps).view_as(cams)


def normalize_cams(cams: Tensor, norm: str = 'max') -> Tensor:
    """``norm``: 'max' (:func:`max_normalize`) or 'minmax' (:func:`minmax_normalize`)."""
    if norm not in ('max', 'minmax'):
        raise ValueError(f"norm must be 'max' or 'minmax', got {norm!r}")
    return max_normalize(cams) if norm == 'max' else minmax_normalize(cams)


def mask_absent(cams: Tensor, img_labels: Optional[Tensor]) -> Tensor:
    """Zero the maps of classes not in the image-level labels (no-op when labels are None)."""
    if img_labels is None:
        return cams
    return cams * img_labels[..., None, None].to(cams.dtype)


def add_background(cams: Tensor, bg_thr: float) -> Tensor:
    """Prepend a constant background map of value ``bg_thr``: argmax then gives background where every
    foreground score is below the threshold (the standard CAM evaluation protocol)."""
    bg = cams.new_full((cams.shape[0], 1, *cams.shape[2:]), float(bg_thr))
    return torch.cat([bg, cams], dim=1)


def cams_to_seg(cams: Tensor, img_labels: Optional[Tensor], bg_thr: float) -> Tensor:
    """Segmentation ids (B, H, W) from normalised CAMs: argmax restricted to the image's labels, background
    where no labelled class exceeds ``bg_thr``."""
    return add_background(mask_absent(cams, img_labels), bg_thr).argmax(dim=1)


def cams_to_pseudo_labels(cams: Tensor,
                          img_labels: Optional[Tensor],
                          high_thr: float,
                          low_thr: float,
                          ignore_index: int = 255) -> Tensor:
    """Pseudo labels with an uncertain band (AFA / ECA style): foreground argmax where the best labelled class
    is above ``high_thr``, background where it is below ``low_thr``, ``ignore_index`` in between.

    With ``high_thr == low_thr`` this is :func:`cams_to_seg` with ``bg_thr = high_thr``.
    """
    cams = mask_absent(cams, img_labels)
    peak, arg = cams.max(dim=1)
    labels = arg + 1
    labels[peak < high_thr] = ignore_index
    labels[peak < low_thr] = 0
    return labels


def restore_to_image(maps: Tensor, meta: dict, align_corners: bool = False) -> Tensor:
    """Undo padding and flip of one sample's maps (C, H, W) and resize them to ``meta['ori_shape']``
    (the same steps mmseg's ``postprocess_result`` applies to ``seg_logits``)."""
    pad = meta.get('img_padding_size', meta.get('padding_size', [0, 0, 0, 0]))
    left, right, top, bottom = pad
    H, W = maps.shape[-2:]
    maps = maps[:, top:H - bottom, left:W - right]
    if meta.get('flip', False):
        maps = maps.flip(dims=(2, ) if meta.get('flip_direction') == 'horizontal' else (1, ))
    return F.interpolate(maps[None], size=tuple(meta['ori_shape'][:2]), mode='bilinear',
                         align_corners=align_corners)[0]


def restore_labels_to_image(labels: Tensor, meta: dict) -> Tensor:
    """Undo padding and flip of one label map (H, W) and resize it (nearest) to ``meta['ori_shape']``."""
    h, w = meta.get('img_shape', labels.shape)[:2]
    labels = labels[:h, :w]
    if meta.get('flip', False):
        labels = labels.flip(dims=(1, ) if meta.get('flip_direction') == 'horizontal' else (0, ))
    size = tuple(meta.get('ori_shape', labels.shape)[:2])
    return resize_labels(labels, size)


def multi_scale_flip_cams(cam_fn, inputs: Tensor, scales: Sequence[float] = (1.0, ), flip: bool = False,
                          align_corners: bool = False, flip_merge: str = 'sum') -> Tensor:
    """Sum over scales of raw (ReLU) CAMs, at the input's size (IRNet's inference). With ``flip`` each scale
    also sees the mirrored image, merged with the direct view by ``flip_merge``: 'sum' (IRNet) or 'max' (AFA's
    training-time CAMs).

    ``cam_fn`` maps images (B, 3, h, w) to raw CAMs (B, K, h', w').
    """
    if flip_merge not in ('sum', 'max'):
        raise ValueError(f"flip_merge must be 'sum' or 'max', got {flip_merge!r}")
    H, W = inputs.shape[-2:]
    total = None
    for s in scales:
        x = inputs if s == 1.0 else F.interpolate(
            inputs, scale_factor=s, mode='bilinear', align_corners=align_corners)
        views = [x, x.flip(-1)] if flip else [x]
        per_scale = None
        for v, view in enumerate(views):
            cam = F.relu(cam_fn(view))
            cam = F.interpolate(cam, size=(H, W), mode='bilinear', align_corners=align_corners)
            if v == 1:
                cam = cam.flip(-1)
            per_scale = cam if per_scale is None else (
                per_scale + cam if flip_merge == 'sum' else torch.maximum(per_scale, cam))
        total = per_scale if total is None else total + per_scale
    return total


def slide_cams(cam_fn, inputs: Tensor, crop_size: Sequence[int], stride: Sequence[int]) -> Tensor:
    """Raw CAMs of overlapping crops, averaged where crops overlap, at the input's size.

    The crop grid is mmseg's ``EncoderDecoder.slide_inference``'s; the difference is what is merged: raw,
    unnormalised CAMs, so that one max-normalisation over the whole image follows (normalising each crop
    separately would make every crop's peak 1). ``cam_fn`` maps crops (B, 3, h, w) to CAMs at the crop's size.
    """
    h_crop, w_crop = crop_size
    h_stride, w_stride = stride
    B, _, H, W = inputs.shape
    h_grids = max(H - h_crop + h_stride - 1, 0) // h_stride + 1
    w_grids = max(W - w_crop + w_stride - 1, 0) // w_stride + 1
    total, count = None, inputs.new_zeros((B, 1, H, W))
    for h_idx in range(h_grids):
        for w_idx in range(w_grids):
            y1, x1 = h_idx * h_stride, w_idx * w_stride
            y2, x2 = min(y1 + h_crop, H), min(x1 + w_crop, W)
            y1, x1 = max(y2 - h_crop, 0), max(x2 - w_crop, 0)
            cam = cam_fn(inputs[:, :, y1:y2, x1:x2])
            if total is None:
                total = inputs.new_zeros((B, cam.shape[1], H, W))
            total[:, :, y1:y2, x1:x2] += cam
            count[:, :, y1:y2, x1:x2] += 1
    return total / count
