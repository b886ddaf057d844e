"""Image-level labels: one carrier, one direction.

The dataset writes ``img_labels`` (the segmentation ids present in the image, background 0 excluded) into each
data info; ``PackWSSSInputs`` copies it into the data sample's metainfo, where it survives batching, TTA and
slide inference; models and metrics turn it into a foreground multi-hot tensor with :func:`img_labels_multi_hot`,
and nothing converts it back.
"""
from typing import Mapping, Sequence, Union

import torch
from torch import Tensor

LABEL_KEY = 'img_labels'


def _ids_of(sample) -> Sequence[int]:
    meta = sample.metainfo if hasattr(sample, 'metainfo') else sample
    if LABEL_KEY not in meta:
        raise KeyError(f'sample carries no `{LABEL_KEY}` in its metainfo: the pipeline needs PackWSSSInputs '
                       '(or PackSegInputs with `img_labels` among meta_keys) over a WSSSDataset')
    return meta[LABEL_KEY]


def has_img_labels(samples: Sequence[Union[Mapping, object]]) -> bool:
    """True when every sample (a SegDataSample or a metainfo dict) carries image-level labels."""
    return len(samples) > 0 and all(
        LABEL_KEY in (s.metainfo if hasattr(s, 'metainfo') else s) for s in samples)


def img_labels_multi_hot(samples: Sequence[Union[Mapping, object]], num_fg: int, device=None) -> Tensor:
    """Foreground multi-hot labels (B, K): column k is segmentation id k + 1.

    ``samples`` are SegDataSamples or metainfo dicts (``{'img_labels': [ids]}``). Ids outside 1..K raise: a
    model whose class count differs from the dataset's is a configuration error, not something to skip.
    """
    labels = torch.zeros(len(samples), num_fg, device=device)
    for i, s in enumerate(samples):
        ids = list(_ids_of(s))
        bad = [c for c in ids if not 0 < int(c) <= num_fg]
        if bad:
            raise ValueError(f'image-level label ids {bad} are outside 1..{num_fg}: the dataset has more classes '
                             f'than the model ({num_fg} foreground); set num_classes to match the dataset')
        labels[i, [int(c) - 1 for c in ids]] = 1
    return labels


def with_background(img_labels: Tensor) -> Tensor:
    """(B, 1 + K) bool: background (always present) then the foreground multi-hot labels (B, K); column c is
    segmentation id c, the mask of classes an image may contain."""
    return torch.cat([img_labels.new_ones(img_labels.shape[0], 1), img_labels], dim=1).bool()


def resize_labels(labels: Tensor, size) -> Tensor:
    """Hard labels (..., H, W) nearest-resized to ``size`` (h, w), long: label maps are never interpolated."""
    lead = labels.shape[:-2]
    flat = labels.reshape(-1, 1, *labels.shape[-2:]).float()
    return torch.nn.functional.interpolate(flat, size=tuple(size), mode='nearest').long().view(*lead, *size)


def image_region(data_samples, size, device=None) -> Tensor:
    """(B, H, W) bool: True inside each sample's image (``img_shape``), False on the padding of the batch
    (``size`` = (H, W), the padded input size)."""
    region = torch.zeros(len(data_samples), *size, dtype=torch.bool, device=device)
    for i, s in enumerate(data_samples):
        h, w = s.metainfo.get('img_shape', size)[:2]
        region[i, :h, :w] = True
    return region
