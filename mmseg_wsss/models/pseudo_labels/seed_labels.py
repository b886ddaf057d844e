import torch
from mmseg.registry import MODELS
from torch import Tensor

from ...utils.labels import with_background
from ..parts import BasePseudoLabelSource


@MODELS.register_module()
class SeedLabels(BasePseudoLabelSource):
    """Seeds made offline (a PNG folder of ``tools/make_pseudo_labels.py`` of any method here: CAM, CLIMS, ECA;
    or MCTformer's / PMM's masks) as a pseudo-label source, for refiners that train on another method's seeds
    (WeakCLIP).

    The seeds travel through the data pipeline as the sample's ``gt_sem_seg``, so every crop, resize and flip of
    the image is applied to them too: point the training dataset's ``pseudo_label_dir`` at the folder and load
    them with ``LoadAnnotations`` (``WSSSDataset`` checks that the folder holds a PNG for every image and names
    the first missing one). This source only collects them: (B, H, W) long, 255 = no cue.

    Args:
        restrict_to_labels (bool): set seeded classes that are not among the image's labels to 255 (a seed
            folder made with another label set or by a model that was not told the labels).
    """

    def __init__(self, restrict_to_labels: bool = False, ignore_index: int = 255):
        super().__init__()
        self.restrict_to_labels = restrict_to_labels
        self.ignore_index = ignore_index

    def forward(self, ctx) -> Tensor:
        samples = ctx.data_samples
        if not all('gt_sem_seg' in s for s in samples):
            raise ValueError('SeedLabels: the training samples carry no seeds; set the training dataset\'s '
                             '`pseudo_label_dir` to the seed PNG folder and add dict(type=\'LoadAnnotations\') to '
                             'its pipeline (see configs/weakclip)')
        H, W = ctx.inputs.shape[-2:]
        out = torch.full((len(samples), H, W), self.ignore_index, dtype=torch.long, device=ctx.device)
        for i, s in enumerate(samples):
            seed = s.gt_sem_seg.data[0].to(ctx.device).long()
            h, w = min(H, seed.shape[0]), min(W, seed.shape[1])
            out[i, :h, :w] = seed[:h, :w]
        if self.restrict_to_labels:
            keep = with_background(ctx.img_labels)  # (B, C)
            valid = out != self.ignore_index
            idx = torch.where(valid, out, torch.zeros_like(out)).clamp_max(keep.shape[1] - 1)
            allowed = keep.gather(1, idx.flatten(1)).view_as(out) & (out < keep.shape[1])
            out[valid & ~allowed] = self.ignore_index
        return out
