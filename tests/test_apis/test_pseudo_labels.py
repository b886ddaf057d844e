import numpy as np
import torch

from mmseg_wsss.apis import pseudo_label_from_cams, pseudo_label_from_probs


def test_from_cams_band_and_hard_threshold():
    cams = torch.tensor([[[0.9, 0.5, 0.2, 0.0]], [[0.0, 0.0, 0.0, 0.0]], [[0.1, 0.6, 0.1, 0.0]]])
    out = pseudo_label_from_cams(cams, [1, 3], high_thr=0.55, low_thr=0.3)
    assert out.dtype == np.uint8 and out.tolist() == [[1, 3, 0, 0]]
    out = pseudo_label_from_cams(cams, [1, 3], high_thr=0.7, low_thr=0.3)
    assert out.tolist() == [[1, 255, 0, 0]]
    # the labels, not the CAMs, decide which classes may appear: class 3 unlabelled -> pixel 1 falls to class
    # 1's score 0.5, inside the band
    out = pseudo_label_from_cams(cams, [1], high_thr=0.55, low_thr=0.3)
    assert out.tolist() == [[1, 255, 0, 0]]


def test_from_cams_with_crf_follows_the_image():
    # left half dark, right half bright; CAM of class 2 covers the right half but leaks one column left
    img = np.zeros((16, 16, 3), np.uint8)
    img[:, 8:] = 255
    cams = torch.zeros(3, 16, 16)
    cams[1, :, 7:] = 0.9
    out = pseudo_label_from_cams(cams, [2], 0.5, 0.5, img=img, crf={})
    assert set(np.unique(out)) <= {0, 2}
    assert (out[:, 9:] == 2).all() and (out[:, :6] == 0).all()
    assert (out[:, 7] == 0).mean() > 0.5  # the leaked column snaps back to the dark background
    # an image whose CAMs are all zero is all background
    assert (pseudo_label_from_cams(torch.zeros(3, 4, 4), [1], 0.5, 0.2, img=img[:4, :4], crf={}) == 0).all()


def test_from_probs_absent_class_and_confidence():
    probs = torch.tensor([[[0.7, 0.1, 0.4]], [[0.2, 0.8, 0.3]], [[0.1, 0.1, 0.3]]])  # (3, 1, 3)
    assert pseudo_label_from_probs(probs, [1, 2]).tolist() == [[0, 1, 0]]
    # class 1 is not in the image labels: its pixel is ignored, not reassigned
    assert pseudo_label_from_probs(probs, [2]).tolist() == [[0, 255, 0]]
    assert pseudo_label_from_probs(probs, [1, 2], conf_thr=0.5).tolist() == [[0, 1, 255]]
