"""Dense CRF (Krähenbühl & Koltun 2011) through pydensecrf2, as used for WSSS pseudo labels.

Defaults are DeepLab's / IRNet's: appearance kernel sxy=50, srgb=5, compat=10; smoothness kernel sxy=3,
compat=3; 10 mean-field iterations.
"""
import numpy as np


def _densecrf():
    try:
        import pydensecrf.densecrf as dcrf
        from pydensecrf import utils as dcrf_utils
    except ImportError as e:  # pragma: no cover - exercised only without the package
        raise ImportError('dense CRF needs pydensecrf2: `pip install pydensecrf2`') from e
    return dcrf, dcrf_utils


def _pairwise(d, img: np.ndarray, pos_sxy, pos_compat, bi_sxy, bi_srgb, bi_compat):
    d.addPairwiseGaussian(sxy=pos_sxy, compat=pos_compat)
    d.addPairwiseBilateral(sxy=bi_sxy, srgb=bi_srgb, rgbim=np.ascontiguousarray(img, dtype=np.uint8),
                           compat=bi_compat)


def crf_from_probs(img: np.ndarray, probs: np.ndarray, n_iters: int = 10, pos_sxy=3, pos_compat=3, bi_sxy=50,
                   bi_srgb=5, bi_compat=10, classes: str = 'all') -> np.ndarray:
    """Refine class probabilities (C, H, W) on an RGB uint8 image (H, W, 3); returns refined (C, H, W).

    ``classes``: 'all' (every channel takes part) or 'predicted' (only the channels that are the argmax of some
    pixel before the CRF, as WeakCLIP's official make_crf.py keeps them; the others come back as 0)."""
    if classes not in ('all', 'predicted'):
        raise ValueError(f"classes must be 'all' or 'predicted', got {classes!r}")
    dcrf, dcrf_utils = _densecrf()
    C, H, W = probs.shape
    keep = np.arange(C) if classes == 'all' else np.unique(probs.argmax(0))
    probs = np.clip(probs[keep].astype(np.float32), 1e-8, 1.0)
    probs = probs / probs.sum(0, keepdims=True)  # a per-pixel constant in the unary: no effect on the result
    d = dcrf.DenseCRF2D(W, H, len(keep))
    d.setUnaryEnergy(np.ascontiguousarray(dcrf_utils.unary_from_softmax(probs)))
    _pairwise(d, img, pos_sxy, pos_compat, bi_sxy, bi_srgb, bi_compat)
    q = np.array(d.inference(n_iters), dtype=np.float32).reshape(len(keep), H, W)
    if len(keep) == C:
        return q
    out = np.zeros((C, H, W), np.float32)
    out[keep] = q
    return out


def crf_from_labels(img: np.ndarray, labels: np.ndarray, n_labels: int, gt_prob: float = 0.7, n_iters: int = 10,
                    pos_sxy=3, pos_compat=3, bi_sxy=50, bi_srgb=5, bi_compat=10, classes: str = 'all') -> np.ndarray:
    """Refine a hard label map (H, W) with a label unary (confidence ``gt_prob``), as IRNet does for CAM
    pseudo labels; returns the refined label map. Labels must be 0..n_labels-1. ``classes`` is
    :func:`crf_from_probs`' (one parameter set serves both); a label map's CRF runs on its ``n_labels`` either way."""
    if classes not in ('all', 'predicted'):
        raise ValueError(f"classes must be 'all' or 'predicted', got {classes!r}")
    dcrf, dcrf_utils = _densecrf()
    H, W = labels.shape
    d = dcrf.DenseCRF2D(W, H, n_labels)
    d.setUnaryEnergy(dcrf_utils.unary_from_labels(labels.astype(np.int32), n_labels, gt_prob=gt_prob,
                                                  zero_unsure=False))
    _pairwise(d, img, pos_sxy, pos_compat, bi_sxy, bi_srgb, bi_compat)
    q = np.array(d.inference(n_iters)).reshape(n_labels, H, W)
    return q.argmax(0)
