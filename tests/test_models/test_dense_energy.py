"""ToCo's dense-energy regulariser (DALNet option 9's alternative): the chunked exact bilateral filter against an
explicit W, the energy and both gradients against a transcription of ToCo's DenseEnergyLossFunction, and what the
regulariser is for: a segmentation that follows the image's edges costs less than one that cuts across them."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmseg_wsss.models.losses.dense_energy import dense_energy_loss, dense_filter


def explicit_w(img, sigma_rgb, sigma_xy):
    """W (N, N) of one image (3, H, W), pair by pair."""
    _, H, W = img.shape
    pix = [(y, x) for y in range(H) for x in range(W)]
    w = torch.zeros(len(pix), len(pix), dtype=torch.float64)
    for i, (yi, xi) in enumerate(pix):
        for j, (yj, xj) in enumerate(pix):
            dxy = (yi - yj) ** 2 + (xi - xj) ** 2
            drgb = float(((img[:, yi, xi] - img[:, yj, xj]) ** 2).sum())
            w[i, j] = math.exp(-dxy / (2 * sigma_xy ** 2) - drgb / (2 * sigma_rgb ** 2))
    return w


def data(B=2, K=3, H=6, W=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(B, 3, H, W, generator=g, dtype=torch.float64) * 255
    probs = torch.randn(B, K, H, W, generator=g, dtype=torch.float64).softmax(1)
    roi = torch.ones(B, H, W, dtype=torch.float64)
    roi[1, :, 5:] = 0  # padding on the right of image 1
    unlabeled = torch.rand(B, H, W, generator=g) < 0.3
    return images, probs, roi, unlabeled


def toco_reference(images, probs, roi, unlabeled, sigma_rgb, sigma_xy):
    """ToCo's DenseEnergyLossFunction at scale 1, written from its code: S *= ROI; Gate = ROI - max_k S,
    1 where unlabeled, clamped at 0; loss = -sum(S * Gate * (W S)) / N; its backward -2 Gate (W S) / N * ROI."""
    B, K, H, W = probs.shape
    loss, grad = 0.0, torch.zeros_like(probs)
    for b in range(B):
        w = explicit_w(images[b], sigma_rgb, sigma_xy)
        s = (probs[b] * roi[b]).reshape(K, -1)
        gate = roi[b] - probs[b].max(0)[0]
        gate[unlabeled[b]] = 1
        gate = gate.clamp_min(0).reshape(-1)
        for k in range(K):
            a = gate * (w @ s[k])
            loss -= float(s[k] @ a)
            grad[b, k] = (-2 * a / B).reshape(H, W) * roi[b]
    return loss / B, grad


def test_filter_is_the_dense_gaussian():
    images, probs, _, _ = data()
    s = probs.clone().requires_grad_(True)
    out = dense_filter(s, images, 15.0, 3.0, chunk=5)  # chunks smaller than the image
    for b in range(2):
        w = explicit_w(images[b], 15.0, 3.0)
        want = (w @ probs[b].reshape(3, -1).t()).t().reshape(3, 6, 7)
        assert torch.allclose(out[b].double(), want, rtol=1e-4, atol=1e-4)
    g = torch.randn_like(out)
    (out * g).sum().backward()
    for b in range(2):  # W is symmetric: the gradient is W g
        w = explicit_w(images[b], 15.0, 3.0)
        want = (w @ g[b].reshape(3, -1).t()).t().reshape(3, 6, 7)
        assert torch.allclose(s.grad[b].double(), want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('grad', ['code', 'exact'])
def test_energy_and_gradients_match_toco(grad):
    images, probs, roi, unlabeled = data()
    p = probs.clone().requires_grad_(True)
    loss = dense_energy_loss(p, images, roi, unlabeled, sigma_rgb=15.0, sigma_xy=3.0, scale=1, grad=grad, chunk=7)
    want, want_grad = toco_reference(images, probs, roi, unlabeled, 15.0, 3.0)
    assert loss.item() == pytest.approx(want, rel=1e-4)
    loss.backward()
    if grad == 'code':
        assert torch.allclose(p.grad.double(), want_grad, rtol=1e-3, atol=1e-6)
    else:  # autograd of the value with the gate constant: ToCo's gradient plus W (G S), so not equal
        q = probs.clone().requires_grad_(True)
        ref = 0
        for b in range(2):
            w = explicit_w(images[b], 15.0, 3.0)
            s = (q[b] * roi[b]).reshape(3, -1)
            gate = roi[b] - probs[b].max(0)[0]
            gate[unlabeled[b]] = 1
            gate = gate.clamp_min(0).reshape(-1)
            ref = ref - (s * gate * (w @ s.t()).t()).sum() / 2
        ref.backward()
        assert torch.allclose(p.grad.double(), q.grad, rtol=1e-3, atol=1e-6)
        assert not torch.allclose(q.grad, want_grad, rtol=1e-2)
    assert (p.grad[1, :, :, 5:] == 0).all()  # nothing flows to padding


def test_half_scale_and_edges():
    """At ToCo's scale 0.5 the value equals the full formula on the resized inputs with sigma_xy halved; and a
    two-region image's segmentation along its edge has a lower energy than one cutting across it."""
    images, probs, roi, unlabeled = data(H=8, W=8)
    roi = torch.ones_like(roi)
    half = dense_energy_loss(probs, images, roi, None, 15.0, 4.0, scale=0.5)
    small_img = F.interpolate(images, scale_factor=0.5)
    small_p = F.interpolate(probs, scale_factor=0.5, mode='bilinear', align_corners=False)
    want, _ = toco_reference(small_img, small_p, torch.ones(2, 4, 4, dtype=torch.float64),
                             torch.zeros(2, 4, 4, dtype=torch.bool), 15.0, 2.0)
    assert half.item() == pytest.approx(want, rel=1e-4)
    img = torch.zeros(1, 3, 8, 8, dtype=torch.float64)
    img[..., 4:] = 255  # left half black, right half white
    along = torch.zeros(1, 2, 8, 8, dtype=torch.float64)
    along[:, 0, :, :4], along[:, 1, :, 4:] = 0.9, 0.9
    along[:, 1, :, :4], along[:, 0, :, 4:] = 0.1, 0.1
    across = along.transpose(-1, -2).contiguous()  # the same split, top / bottom
    one = torch.ones(1, 8, 8, dtype=torch.float64)
    e_along = dense_energy_loss(along, img, one, None, 15.0, 100.0, scale=1, gate=False)
    e_across = dense_energy_loss(across, img, one, None, 15.0, 100.0, scale=1, gate=False)
    assert e_along < e_across


def test_term_in_the_dalnet_model():
    from mmseg.structures import SegDataSample

    from tests.test_models.test_dalnet import toy_model
    torch.manual_seed(0)
    model = toy_model(**{'losses.reg': dict(type='DenseEnergyLoss', labels='cam', weight=0.05),
                         'losses.seg.start_iter': 0}).train()
    samples = [SegDataSample(metainfo=dict(img_labels=labels, img_shape=(100, 112), pad_shape=(112, 112)))
               for labels in ([1], [2, 4])]
    losses = model.loss(torch.randn(2, 3, 112, 112), samples)
    assert torch.isfinite(losses['reg.loss']) and losses['reg.loss'] < 0
    losses['reg.loss'].backward()
    assert model.decode_head.conv_seg.weight.grad.abs().sum() > 0
