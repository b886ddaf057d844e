from types import SimpleNamespace

import pytest
import torch

from mmseg_wsss.models.heads import CAMHead
from mmseg_wsss.models.loss_terms import CAMClassificationLoss
from mmseg_wsss.models.losses import multilabel_soft_margin_loss


def test_outputs_and_cam_definition():
    head = CAMHead(in_channels=8, num_classes=3)
    feats = (torch.randn(2, 4, 5, 5), torch.randn(2, 8, 6, 7))
    out = head(feats)
    assert out['cls_logits'].shape == (2, 3) and out['cam_logits'].shape == (2, 3, 6, 7)
    # CAM = W^T Z at every position (CLIMS Eq. 2), no bias
    w = head.classifier.weight[:, :, 0, 0]
    expected = torch.einsum('kc,bchw->bkhw', w, feats[1])
    assert torch.allclose(out['cam_logits'], expected, atol=1e-5)
    # average pooling commutes with the linear classifier
    assert torch.allclose(out['cls_logits'], out['cam_logits'].mean(dim=(2, 3)), atol=1e-5)
    assert torch.equal(head.cams(out), out['cam_logits'].clamp_min(0))


def test_max_pool_and_loss_grad():
    head = CAMHead(in_channels=8, num_classes=3, pool='max')
    x = torch.randn(2, 8, 4, 4, requires_grad=True)
    out = head([x])
    assert torch.allclose(out['cls_logits'], head.classifier(x.amax(dim=(2, 3), keepdim=True)).flatten(1))
    ctx = SimpleNamespace(cam_outputs=out, img_labels=torch.tensor([[1., 0., 1.], [0., 1., 0.]]))
    loss = CAMClassificationLoss()(ctx)['loss']
    assert torch.allclose(loss, multilabel_soft_margin_loss(out['cls_logits'], ctx.img_labels))
    loss.backward()
    assert head.classifier.weight.grad.abs().sum() > 0 and x.grad.abs().sum() > 0


def test_bad_pool():
    with pytest.raises(ValueError):
        CAMHead(in_channels=8, num_classes=3, pool='median')
