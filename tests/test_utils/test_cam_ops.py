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


def test_slide_cams_values():
    """Value checks of the crop grid and the overlap average: a per-pixel CAM function gives the whole-image
    result exactly (every pixel covered, overlaps averaged, the last crop flush with the border), and a function
    returning ones counts each pixel once (no crop double-counted in the average)."""
    from mmseg_wsss.utils.cam_ops import slide_cams
    torch.manual_seed(0)
    x = torch.rand(2, 3, 28, 30)
    w = torch.randn(4, 3)

    def local(crop):  # a 1x1 "network": the CAM of a pixel depends on that pixel only
        return torch.einsum('kc,bchw->bkhw', w, crop).relu()

    assert torch.allclose(slide_cams(local, x, (16, 16), (12, 12)), local(x), atol=1e-6)
    assert torch.allclose(slide_cams(local, x, (40, 40), (12, 12)), local(x), atol=1e-6)  # one crop, clipped
    offsets = []

    def position(crop):  # a crop-dependent function: its value is how many crops the grid has seen so far
        offsets.append(crop.shape[-2:])
        return torch.full((2, 1, *crop.shape[-2:]), float(len(offsets)))

    out = slide_cams(position, x, (16, 16), (12, 12))
    assert len(offsets) == 2 * 3 and all(tuple(o) == (16, 16) for o in offsets)  # rows 0, 12; cols 0, 12, 14
    assert out[0, 0, 0, 0] == 1 and out[0, 0, 27, 29] == 6  # corners see one crop each
    assert out[0, 0, 0, 13] == 1.5  # columns 12-13 of the first band: crops 1 and 2; 14-15: crops 1, 2 and 3
    assert out[0, 0, 0, 15] == 2.0 and out[0, 0, 13, 15] == (1 + 2 + 3 + 4 + 5 + 6) / 6
