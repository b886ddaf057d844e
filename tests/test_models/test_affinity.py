"""AFA's affinity from attention: labels (Eq. 2 target), the balanced loss, propagation, the loss term."""
import pytest
import torch

from mmseg_wsss.models.heads import AttentionAffinityHead
from mmseg_wsss.models.loss_terms import AffinityFromAttentionLoss
from mmseg_wsss.models.losses import affinity_labels, affinity_loss, radius_mask
from mmseg_wsss.models.pseudo_labels.propagation import propagate_with_affinity


def test_affinity_labels_transcription():
    torch.manual_seed(0)
    labels = torch.randint(0, 3, (2, 8, 12))
    labels[0, :2] = 255
    h, w, r = 4, 6, 2
    out = affinity_labels(labels, (h, w), r)
    small = labels[:, ::2, ::2].flatten(1)  # nearest downsampling by 2
    for b in range(2):
        for i in range(h * w):
            for j in range(h * w):
                yi, xi, yj, xj = i // w, i % w, j // w, j % w
                if max(abs(yi - yj), abs(xi - xj)) > r or 255 in (small[b, i], small[b, j]):
                    want = 255
                else:
                    want = int(small[b, i] == small[b, j])
                assert out[b, i, j] == want


def test_affinity_loss_transcription_and_gradient():
    torch.manual_seed(0)
    pred = torch.rand(2, 10, 10, requires_grad=True)
    target = torch.randint(0, 2, (2, 10, 10))
    target[0, 0] = 255
    pos, neg = [], []
    for p, t in zip(pred.flatten(), target.flatten()):
        if t == 1:
            pos.append(1 - p)
        elif t == 0:
            neg.append(p)
    want = 0.5 * sum(pos) / (len(pos) + 1) + 0.5 * sum(neg) / (len(neg) + 1)
    got = affinity_loss(pred, target)
    assert torch.allclose(got, want)
    got.backward()
    assert torch.allclose(pred.grad[target == 1], torch.tensor(-0.5 / (len(pos) + 1)))
    assert torch.allclose(pred.grad[target == 255], torch.tensor(0.0))


def test_propagate_with_affinity_transcription():
    torch.manual_seed(0)
    probs, aff = torch.rand(1, 3, 3, 4), torch.rand(1, 12, 12)
    mask = radius_mask(3, 4, 1)
    a = (aff[0] * mask) ** 2
    a = a / (a.sum(0, keepdim=True) + 0.1)
    want = (probs[0].reshape(3, 12) @ a).reshape(3, 3, 4)
    assert torch.allclose(propagate_with_affinity(probs, aff, mask)[0], want, atol=1e-6)


class _Ctx:
    def __init__(self, head_outputs):
        self.head_outputs = head_outputs


def test_affinity_head_symmetrises_and_the_term_trains_it():
    torch.manual_seed(0)
    attn = torch.randn(2, 3, 16, 16, requires_grad=True)
    head = AttentionAffinityHead(in_channels=3)
    out = head((), dict(attn_logits=attn, attn_hw=(4, 4)))
    pred = out['affinity']
    assert pred.shape == (2, 16, 16) and torch.allclose(pred, pred.transpose(1, 2), atol=1e-6) and out['grid'] == (4, 4)
    direct = torch.sigmoid(torch.einsum('m,bmij->bij', head.proj.weight.flatten(), attn + attn.transpose(-2, -1))
                           + head.proj.bias)
    assert torch.allclose(pred, direct, atol=1e-6)
    term = AffinityFromAttentionLoss(affinity='aff', radius=2)
    ctx = _Ctx(dict(aff=out))
    labels = torch.randint(0, 3, (2, 16, 16))
    loss = term(ctx, labels=[labels, labels])  # several sources are averaged
    assert torch.allclose(loss['loss'], term(ctx, labels=labels)['loss'])
    loss['loss'].backward()
    assert attn.grad.abs().sum() > 0 and head.proj.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='attention logits'):
        head((), {})
