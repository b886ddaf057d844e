import numpy as np

from mmseg_wsss.utils.crf import crf_from_labels, crf_from_probs


def test_crf_from_probs_sharpens_noisy_probabilities():
    rng = np.random.default_rng(0)
    img = np.zeros((24, 24, 3), np.uint8)
    img[:, 12:] = 200
    truth = np.zeros((24, 24), int)
    truth[:, 12:] = 1
    p1 = np.clip(0.5 + 0.25 * (2 * truth - 1) + rng.normal(0, 0.3, truth.shape), 0.01, 0.99)
    probs = np.stack([1 - p1, p1])
    refined = crf_from_probs(img, probs)
    assert refined.shape == probs.shape and np.allclose(refined.sum(0), 1, atol=1e-4)
    before = (probs.argmax(0) == truth).mean()
    after = (refined.argmax(0) == truth).mean()
    assert after > before and after > 0.97


def test_crf_from_labels_keeps_label_range():
    img = np.zeros((10, 10, 3), np.uint8)
    labels = np.zeros((10, 10), int)
    labels[2:8, 2:8] = 2
    out = crf_from_labels(img, labels, 3)
    assert out.shape == (10, 10) and set(np.unique(out)) <= {0, 1, 2}


def test_crf_from_labels_snaps_a_shifted_label_to_the_image_edges():
    """A value check (a CRF that returned its input would fail): a square label shifted 2 px off the bright square
    it belongs to moves onto it (with DeepLab's default kernels)."""
    img = np.zeros((24, 24, 3), np.uint8)
    img[4:16, 4:16] = 220
    truth = np.zeros((24, 24), int)
    truth[4:16, 4:16] = 1
    labels = np.zeros((24, 24), int)
    labels[6:18, 6:18] = 1
    out = crf_from_labels(img, labels, 2)
    assert (labels == truth).mean() < 0.85 and (out == truth).mean() > 0.98


def test_crf_on_the_predicted_classes_only():
    """classes='predicted' (WeakCLIP's official make_crf.py): the CRF runs on the channels that win some pixel
    before it, equal to a CRF on that sub-array; a class that wins nowhere comes back as 0 and cannot win after
    (with every channel it keeps a share)."""
    rng = np.random.default_rng(1)
    img = np.zeros((20, 20, 3), np.uint8)
    img[:, 10:] = 200
    probs = np.full((3, 20, 20), 0.05)
    probs[0, :, :10], probs[1, :, 10:] = 0.5, 0.5
    probs[2] = 0.45 + rng.uniform(0, 0.04, (20, 20))  # never the argmax, close everywhere
    probs /= probs.sum(0, keepdims=True)
    kept = crf_from_probs(img, probs, classes='predicted')
    assert set(np.unique(probs.argmax(0))) == {0, 1} and (kept[2] == 0).all()
    sub = crf_from_probs(img, probs[:2] / probs[:2].sum(0, keepdims=True))
    assert np.allclose(kept[:2], sub, atol=1e-6)
    assert set(np.unique(kept.argmax(0))) <= {0, 1}
    assert crf_from_probs(img, probs)[2].max() > 0
