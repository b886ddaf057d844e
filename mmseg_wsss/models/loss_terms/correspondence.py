from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from ...utils.labels import resize_labels
from ..losses.eca import cam_distribution, correspondence_loss_code, correspondence_loss_js
from ..parts import BaseLossTerm


def view_boxes(labels: Tensor, num_views: int, size: int, ignore_index: int = 255,
               generator=None) -> List[List[Tuple[int, int]]]:
    """Top-left corners of ``num_views`` square crops of side ``size`` per image, each centred on a random
    foreground pixel of the global pseudo label (a random pixel when it has none), kept inside the image."""
    B, H, W = labels.shape
    size_h, size_w = min(size, H), min(size, W)
    out = []
    for b in range(B):
        fg = ((labels[b] > 0) & (labels[b] != ignore_index)).nonzero()
        corners = []
        for _ in range(num_views):
            if len(fg):
                y, x = fg[torch.randint(len(fg), (1, ), generator=generator).item()].tolist()
            else:
                y, x = torch.randint(H, (1, ), generator=generator).item(), torch.randint(W, (1, ), generator=generator).item()
            top = min(max(y - size_h // 2, 0), H - size_h)
            left = min(max(x - size_w // 2, 0), W - size_w)
            corners.append((top, left))
        out.append(corners)
    return out


@MODELS.register_module()
class CAMCorrespondenceLoss(BaseLossTerm):
    """ECA's CAM correspondence enhancement (CCE, Wu et al., ACM MM 2024, Sec. 3.3, Eq. 11) as a loss term.

    For each image, ``num_views`` local views of ``view_size`` px are cropped around random foreground pixels of
    the global CAM pseudo label (the term's ``labels``), re-augmented (colour jitter, optional grayscale,
    horizontal flip on image and label) and passed through the backbone and CAM head again (with gradient). Their
    CAM logits are resized to ``grid`` x ``grid``, the labels nearest-resized; positions sharing a global label
    are positive pairs, others negative.

    form='js' (the paper, default): Eq. 11 per view with the Jensen-Shannon divergence, in its intended reading
    (``reading='intended'``: small JS for positives, large for negatives; ``'literal'`` is the printed equation,
    which pushes positives apart), CAM vectors made distributions by ``distribution`` ('softmax' of the logits,
    or 'l1' of the ReLU activations; the paper does not say), summed over the views of an image, averaged over
    images; pairwise JS is chunked (``chunk`` elements per block) with recomputation in backward so memory stays bounded.
    form='code' (the official code): |cosine| of the raw logit vectors between positions of the same view, the
    positive / negative pair sums and counts taken over both views of an image together (not pairs across
    views), summed over images and divided by (views x B).

    Augmentation: the paper says colour distortion and flips; ``color_jitter`` (brightness, contrast,
    saturation, hue) = (0.4, 0.4, 0.2, 0.1) and ``grayscale_p`` 0.2 are the official code's values (grayscale
    is code-only, default 0).
    """

    def __init__(self,
                 num_views: int = 2,
                 view_size: int = 256,
                 grid: int = 64,
                 form: str = 'js',
                 reading: str = 'intended',
                 distribution: str = 'softmax',
                 color_jitter: Sequence[float] = (0.4, 0.4, 0.2, 0.1),
                 grayscale_p: float = 0.0,
                 flip_p: float = 0.5,
                 chunk: int = 2**24,
                 ignore_index: int = 255):
        super().__init__()
        if form not in ('js', 'code'):
            raise ValueError(f"form must be 'js' or 'code', got {form!r}")
        cam_distribution(torch.zeros(1, 2), distribution)  # validates
        self.num_views, self.view_size, self.grid = num_views, view_size, grid
        self.form, self.reading, self.distribution = form, reading, distribution
        self.color_jitter = tuple(color_jitter) if color_jitter else None
        self.grayscale_p, self.flip_p, self.chunk = grayscale_p, flip_p, chunk
        self.ignore_index = ignore_index

    def augment(self, view: Tensor) -> Tensor:
        """Colour re-augmentation of one view (3, h, w) in [0, 1]."""
        from torchvision import transforms
        if self.color_jitter is not None:
            view = transforms.ColorJitter(*self.color_jitter)(view)
        if self.grayscale_p > 0 and torch.rand(()) < self.grayscale_p:
            view = transforms.functional.rgb_to_grayscale(view, num_output_channels=3)
        return view

    def local_views(self, images: Tensor, labels: Tensor) -> Tuple[Tensor, Tensor]:
        """(B x V, 3, s, s) re-augmented views and their (B x V, grid, grid) labels."""
        boxes = view_boxes(labels, self.num_views, self.view_size, self.ignore_index)
        s_h, s_w = min(self.view_size, images.shape[-2]), min(self.view_size, images.shape[-1])
        views, view_labels = [], []
        for b, corners in enumerate(boxes):
            for top, left in corners:
                img = images[b, :, top:top + s_h, left:left + s_w]
                lab = labels[b, top:top + s_h, left:left + s_w]
                with torch.no_grad():
                    img = self.augment(img)
                if torch.rand(()) < self.flip_p:
                    img, lab = img.flip(-1), lab.flip(-1)
                views.append(img)
                view_labels.append(lab)
        lab = resize_labels(torch.stack(view_labels), (self.grid, self.grid))
        return torch.stack(views), lab

    def forward(self, ctx, labels=None) -> Dict[str, Tensor]:
        if labels is None:
            raise ValueError('CAMCorrespondenceLoss needs `labels=<global CAM pseudo-label source>`')
        views, view_labels = self.local_views(ctx.images, labels)
        logits = ctx.cam_logits_fn(views)
        logits = F.interpolate(logits, size=(self.grid, self.grid), mode='bilinear', align_corners=False)
        vecs = logits.flatten(2).transpose(1, 2)                     # B x V, N, K
        flat = view_labels.flatten(1)
        B, V = ctx.batch_size, self.num_views
        if self.form == 'code':
            # per image: cosines within each view, pair sums and counts over its views (the official code)
            per_image = [correspondence_loss_code(vecs[b * V:(b + 1) * V], flat[b * V:(b + 1) * V], self.ignore_index)
                         for b in range(B)]
            return dict(loss=torch.stack(per_image).sum() / (V * B))
        probs = cam_distribution(vecs, self.distribution)
        per_view = correspondence_loss_js(probs, flat, self.reading, self.chunk, self.ignore_index)
        return dict(loss=per_view.view(B, V).sum(dim=1).mean())
