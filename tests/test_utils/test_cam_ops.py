import torch

from mmseg_wsss.utils.cam_ops import (add_background, cams_to_pseudo_labels, cams_to_seg, mask_absent, max_normalize,
                                      multi_scale_flip_cams, restore_to_image)


def test_max_normalize_relu_and_peak_one():
    cams = torch.randn(2, 3, 5, 7)
    out = max_normalize(cams)
    assert (out >= 0).all()
    peaks = out.flatten(-2).max(-1)[0]
    has_pos = cams.flatten(-2).max(-1)[0] > 0
    assert torch.allclose(peaks[has_pos], torch.ones_like(peaks[has_pos]), atol=1e-4)
    # direct transcription
    r = cams.clamp_min(0)
    expected = r / (r.amax(dim=(-2, -1), keepdim=True) + 1e-5)
    assert torch.allclose(out, expected)


def test_mask_absent_and_background():
    cams = torch.rand(1, 3, 2, 2)
    labels = torch.tensor([[1., 0., 1.]])
    m = mask_absent(cams, labels)
    assert (m[:, 1] == 0).all() and torch.equal(m[:, 0], cams[:, 0])
    assert mask_absent(cams, None) is cams
    bg = add_background(cams, 0.3)
    assert bg.shape == (1, 4, 2, 2) and (bg[:, 0] == 0.3).all()


def test_cams_to_seg_matches_loop():
    torch.manual_seed(0)
    cams = torch.rand(2, 4, 6, 6)
    labels = (torch.rand(2, 4) > 0.4).float()
    seg = cams_to_seg(cams, labels, 0.5)
    for b in range(2):
        for y in range(6):
            for x in range(6):
                best, best_v = 0, 0.5
                for k in range(4):
                    if labels[b, k] and cams[b, k, y, x] > best_v:
                        best, best_v = k + 1, cams[b, k, y, x]
                assert seg[b, y, x] == best


def test_pseudo_labels_uncertain_band():
    cams = torch.tensor([[[[0.9, 0.5, 0.1]]], [[[0.2, 0.6, 0.3]]]]).permute(1, 0, 2, 3)  # (1, 2, 1, 3)
    labels = torch.tensor([[1., 1.]])
    out = cams_to_pseudo_labels(cams, labels, high_thr=0.55, low_thr=0.35)
    # pixel 0: class 1 at 0.9 -> 1; pixel 1: class 2 at 0.6 -> 2; pixel 2: peak 0.3 < low -> 0
    assert out.tolist() == [[[1, 2, 0]]]
    out = cams_to_pseudo_labels(cams, torch.tensor([[1., 0.]]), 0.55, 0.35)
    # class 2 absent: pixel 1 peak 0.5 between thresholds -> 255
    assert out.tolist() == [[[1, 255, 0]]]
    # high == low is a hard threshold, identical to cams_to_seg
    assert torch.equal(cams_to_pseudo_labels(cams, labels, 0.4, 0.4), cams_to_seg(cams, labels, 0.4))


def test_multi_scale_flip_cams():
    x = torch.rand(1, 3, 8, 8)
    single = multi_scale_flip_cams(lambda v: v[:, :2], x)
    assert torch.allclose(single, x[:, :2])
    flipped = multi_scale_flip_cams(lambda v: v[:, :2], x, flip=True)
    assert torch.allclose(flipped, 2 * x[:, :2])  # flip, then flip back
    ms = multi_scale_flip_cams(lambda v: torch.ones_like(v[:, :1]), x, scales=(1.0, 0.5, 1.5))
    assert ms.shape == (1, 1, 8, 8) and torch.allclose(ms, torch.full_like(ms, 3.0))


def test_restore_to_image_undoes_padding_and_flip():
    maps = torch.arange(2 * 4 * 6, dtype=torch.float).reshape(2, 4, 6)
    meta = dict(padding_size=[0, 2, 0, 1], flip=True, flip_direction='horizontal', ori_shape=(3, 4))
    out = restore_to_image(maps, meta)
    assert torch.allclose(out, maps[:, :3, :4].flip(-1))
