import torch

from mmseg_wsss.models.losses import multilabel_soft_margin_loss


def transcription(x, y):
    """CLIMS Eq. 1 averaged over the K classes and the batch."""
    s = torch.sigmoid(x)
    per = -(y * torch.log(s) + (1 - y) * torch.log(1 - s))
    return per.mean()


def test_matches_equation_values_and_grads():
    torch.manual_seed(0)
    x = torch.randn(4, 20, dtype=torch.double, requires_grad=True)
    y = (torch.rand(4, 20) > 0.7).double()
    a = multilabel_soft_margin_loss(x, y)
    b = transcription(x, y)
    assert torch.allclose(a, b)
    ga, = torch.autograd.grad(a, x)
    gb, = torch.autograd.grad(b, x)
    assert torch.allclose(ga, gb)
    assert torch.autograd.gradcheck(lambda t: multilabel_soft_margin_loss(t, y), (x, ))
