"""Pseudo labels from a trained model's CAMs or decoder predictions (used by tools/make_pseudo_labels.py)."""
from typing import Optional, Sequence

import numpy as np
import torch

from ..utils.cam_ops import add_background, cams_to_pseudo_labels
from ..utils.labels import img_labels_multi_hot


def pseudo_label_from_cams(cams: torch.Tensor,
                           img_label_ids: Sequence[int],
                           high_thr: float,
                           low_thr: float,
                           img: Optional[np.ndarray] = None,
                           crf: Optional[dict] = None,
                           ignore_index: int = 255) -> np.ndarray:
    """Pseudo labels (H, W) uint8 from normalised CAMs (K, H, W) and the image's labels (segmentation ids).

    Foreground where the best class exceeds ``high_thr``, background where it is below ``low_thr``,
    ``ignore_index`` between. With ``crf`` (kwargs for :func:`crf_from_labels`, ``{}`` for defaults) both
    thresholded maps are refined by a dense CRF on ``img`` first and combined as IRNet does: the CRF'd
    high-threshold map gives foreground, the CRF'd low-threshold map gives background, the rest is ignored.
    """
    labels = img_labels_multi_hot([dict(img_labels=img_label_ids)], cams.shape[0], cams.device)
    if crf is None:
        return cams_to_pseudo_labels(cams[None], labels, high_thr, low_thr, ignore_index)[0].cpu().numpy().astype(
            np.uint8)
    from ..utils.crf import crf_from_labels
    present = labels[0].nonzero()[:, 0].tolist()
    keys = np.array([0] + [k + 1 for k in present], dtype=np.uint8)  # local index -> segmentation id
    local = cams[present] if present else cams[:0]

    def refined(thr):
        lab = add_background(local[None], thr)[0].argmax(0).cpu().numpy()
        return crf_from_labels(img, lab, len(keys), **crf) if len(keys) > 1 else lab

    fg, bg = refined(high_thr), refined(low_thr)
    out = keys[fg]
    out[fg == 0] = ignore_index
    out[(fg == 0) & (bg == 0)] = 0
    return out


def pseudo_label_from_probs(probs: torch.Tensor,
                            img_label_ids: Optional[Sequence[int]],
                            conf_thr: float = 0.0,
                            img: Optional[np.ndarray] = None,
                            crf: Optional[dict] = None,
                            ignore_index: int = 255) -> np.ndarray:
    """Pseudo labels (H, W) uint8 from class probabilities (C, H, W) of a decoder (background = 0).

    Optionally refined by a dense CRF (``crf`` = kwargs of :func:`crf_from_probs`). Pixels whose class is not
    among ``img_label_ids`` (background is always allowed) or whose probability is below ``conf_thr`` get
    ``ignore_index``.
    """
    p = probs.float().cpu().numpy()
    if crf is not None:
        from ..utils.crf import crf_from_probs
        p = crf_from_probs(img, p, **crf)
    label = p.argmax(0).astype(np.uint8)
    label[p.max(0) < conf_thr] = ignore_index
    if img_label_ids is not None:
        allowed = np.zeros(p.shape[0], bool)
        allowed[0] = True
        allowed[[c for c in img_label_ids if 0 < c < p.shape[0]]] = True
        label[(label != ignore_index) & ~allowed[np.minimum(label, p.shape[0] - 1)]] = ignore_index
    return label


def write_pseudo_label(job: dict) -> None:
    """Make one pseudo-label PNG from a model output (the CPU part: optional CRF, then the atomic PNG write).

    ``job``: ``source`` ('cam' or 'decoder'), ``maps`` (normalised CAMs (K, H, W) or class probabilities
    (C, H, W), numpy), ``img_label_ids``, ``img_path`` (read only for the CRF), ``out_path``, ``high_thr``,
    ``low_thr``, ``conf_thr``, ``crf`` (None or CRF kwargs) and ``palette``. A plain function of plain data, so
    that worker processes of ``tools/make_pseudo_labels.py --workers N`` can run it.
    """
    import mmcv

    from ..utils.io import save_label_png
    img = mmcv.imread(job['img_path'], channel_order='rgb') if job['crf'] is not None else None
    maps = torch.from_numpy(job['maps'])
    if job['source'] == 'cam':
        label = pseudo_label_from_cams(maps, job['img_label_ids'], job['high_thr'], job['low_thr'], img=img,
                                       crf=job['crf'])
    else:
        label = pseudo_label_from_probs(maps, job['img_label_ids'], job['conf_thr'], img=img, crf=job['crf'])
    save_label_png(job['out_path'], label, job['palette'])
