"""ECA (ACM MM 2024): each equation against a direct transcription on random inputs, values and gradients."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmseg_wsss.models.losses.eca import (background_cam, calibrate, cam_distribution, class_aware_maps,
                                          correspondence_loss_code, correspondence_loss_js, foreground_cue,
                                          js_divergence, key_affinity, minmax, prototype_similarity, prototype_sums,
                                          select_seeds)
from mmseg_wsss.models.utils import ClassMemory


def test_background_cam_eq2():
    cams = torch.rand(2, 3, 10)
    assert torch.allclose(background_cam(cams), 1 - cams.max(1)[0])


@pytest.mark.parametrize('count', ['paper', 'code'])
@pytest.mark.parametrize('bg', ['paper', 0.45])
def test_select_seeds_eq3(count, bg):
    torch.manual_seed(1)
    cams = torch.rand(2, 4, 30)
    cams[cams < 0.3] = 0
    classes = torch.tensor([[1, 0, 1, 0], [0, 1, 1, 1]])
    seeds = select_seeds(cams, classes, 0.3, bg, count)
    for b in range(2):
        m = cams[b] * classes[b, :, None]
        m0 = 1 - m.max(0)[0] if bg == 'paper' else torch.full((30, ), bg)
        full = torch.cat([m0[None], m])
        allowed = [0] + [k + 1 for k in range(4) if classes[b, k]]
        owner = torch.tensor([max(allowed, key=lambda c: (full[c, i].item(), -c)) for i in range(30)])
        for c in range(5):
            vals = full[c] * (owner == c) * (c in allowed)
            n = int((vals > 0).sum())
            want_n = max(1, round(0.3 * n)) if count == 'paper' else min(round(0.3 * n) + 1, n)
            want_n = want_n if n else 0
            top = set(vals.argsort(descending=True)[:want_n].tolist())
            assert set(seeds[b, c].nonzero()[:, 0].tolist()) == top


def test_affinity_and_foreground_cue_eqs4_5():
    keys, q = torch.randn(2, 6, 5), torch.randn(2, 5)
    g = key_affinity(keys)
    i, j = 1, 4
    want = (keys[0, i] @ keys[0, j]) / (keys[0, i].norm() * keys[0, j].norm())
    assert torch.allclose(g[0, i, j], want, atol=1e-6)
    fg = foreground_cue(q, keys)
    assert torch.allclose(fg[1, 2], (q[1] @ keys[1, 2]) / (q[1].norm() * keys[1, 2].norm()), atol=1e-6)


@pytest.mark.parametrize('fg_mode', ['continuous', 'binary'])
def test_class_aware_maps_eqs6_7(fg_mode):
    torch.manual_seed(0)
    seeds = torch.rand(1, 3, 8) > 0.6
    aff = torch.rand(1, 8, 8) * 2 - 1
    cue = torch.rand(1, 8) * 2 - 1
    out = class_aware_maps(seeds, aff, cue, 0.15, fg_mode, -0.5)
    for c in range(3):
        m = torch.zeros(8)
        for i in seeds[0, c].nonzero()[:, 0]:
            a = (aff[0, i] > 0.15).float()                         # Eq. 6
            m += a if c == 0 else a * (cue[0] if fg_mode == 'continuous' else (cue[0] > -0.5).float())
        assert torch.allclose(out[0, c], m, atol=1e-6)


def test_prototypes_eqs8_9_10():
    torch.manual_seed(0)
    feats = torch.randn(2, 4, 6)                                    # B, D, N
    seeds = torch.rand(2, 3, 6) > 0.5
    sums, counts = prototype_sums(feats, seeds)
    mem = ClassMemory(3, 4, momentum=0.9, init='zeros')
    mem.update(sums, counts)
    for c in range(3):
        toks = [feats[b, :, i] for b in range(2) for i in range(6) if seeds[b, c, i]]
        if toks:                                                    # Eq. 8
            assert torch.allclose(mem.bank[c], 0.1 * torch.stack(toks).mean(0), atol=1e-6)
    protos = torch.randn(3, 4)
    sim = prototype_similarity(feats, protos)                       # Eq. 9
    want = max(0.0, float(protos[1] @ feats[0, :, 2] / (protos[1].norm() * feats[0, :, 2].norm())))
    assert sim[0, 1, 2].item() == pytest.approx(want, abs=1e-6)
    carm = torch.rand(2, 3, 6)
    out = calibrate(carm, sim)                                      # Eq. 10
    prod = carm[1, 2] * sim[1, 2] ** 2
    assert torch.allclose(out[1, 2], (prod - prod.min()) / (prod.max() - prod.min() + 1e-5), atol=1e-6)
    assert torch.allclose(calibrate(carm, sim, 1.5, renorm=False), carm * sim ** 1.5)


def test_minmax():
    x = torch.tensor([[2.0, 4.0, 3.0]])
    assert torch.allclose(minmax(x, eps=0), torch.tensor([[0.0, 1.0, 0.5]]))


def js_direct(p, q):
    m = [(a + b) / 2 for a, b in zip(p, q)]
    return 0.5 * sum(p[k] * math.log2(p[k] / m[k]) for k in range(len(p)) if p[k] > 0) + \
        0.5 * sum(q[k] * math.log2(q[k] / m[k]) for k in range(len(q)) if q[k] > 0)


def eq11_direct(probs, labels, reading):
    """Eq. 11 for one view, pair by pair (i != j, ignored excluded)."""
    pos, neg = [], []
    N = len(labels)
    for i in range(N):
        for j in range(N):
            if i == j or labels[i] == 255 or labels[j] == 255:
                continue
            d = js_direct(probs[i].tolist(), probs[j].tolist())
            (pos if labels[i] == labels[j] else neg).append(d)
    if reading == 'intended':
        return sum(pos) / max(len(pos), 1) + (sum(1 - d for d in neg) / len(neg) if neg else 0)
    return (sum(1 - d for d in pos) / len(pos) if pos else 0) + sum(neg) / max(len(neg), 1)


def test_js_divergence_is_base2_and_bounded():
    p, q = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    assert js_divergence(p, q).item() == pytest.approx(1.0, abs=1e-6)
    p = torch.softmax(torch.randn(4), 0)
    q = torch.softmax(torch.randn(4), 0)
    assert js_divergence(p, q).item() == pytest.approx(js_direct(p.tolist(), q.tolist()), abs=1e-5)


@pytest.mark.parametrize('reading', ['intended', 'literal'])
def test_correspondence_js_eq11(reading):
    torch.manual_seed(0)
    logits = torch.randn(2, 12, 4)
    labels = torch.randint(0, 3, (2, 12))
    labels[0, :3] = 255
    probs = cam_distribution(logits)
    got = correspondence_loss_js(probs, labels, reading)
    for v in range(2):
        assert got[v].item() == pytest.approx(eq11_direct(probs[v], labels[v].tolist(), reading), abs=1e-5)


def test_correspondence_js_chunked_equals_whole_values_and_gradients():
    torch.manual_seed(0)
    logits = torch.randn(2, 50, 5, requires_grad=True)
    labels = torch.randint(0, 3, (2, 50))
    whole = correspondence_loss_js(cam_distribution(logits), labels).sum()
    g_whole, = torch.autograd.grad(whole, logits)
    chunked = correspondence_loss_js(cam_distribution(logits), labels, chunk=3 * 2 * 50 * 5).sum()  # 17 blocks
    g_chunked, = torch.autograd.grad(chunked, logits)
    assert torch.allclose(whole, chunked, atol=1e-5) and torch.allclose(g_whole, g_chunked, atol=1e-6)


def test_correspondence_js_intended_pulls_positives_together():
    """One gradient step on the intended reading lowers the JS of positive pairs; the literal one raises it."""
    torch.manual_seed(0)
    labels = torch.tensor([[1, 1, 1, 2, 2, 2]])
    for reading, sign in (('intended', -1), ('literal', 1)):
        logits = torch.randn(1, 6, 3, requires_grad=True)
        before = js_divergence(logits.softmax(-1)[0, 0], logits.softmax(-1)[0, 1]).item()
        correspondence_loss_js(logits.softmax(-1), labels, reading).sum().backward()
        with torch.no_grad():
            after_logits = logits - 0.5 * logits.grad
        after = js_divergence(after_logits.softmax(-1)[0, 0], after_logits.softmax(-1)[0, 1]).item()
        assert sign * (after - before) > 0


def test_correspondence_code_form():
    torch.manual_seed(0)
    x = torch.randn(10, 4)
    labels = torch.randint(0, 2, (10, ))
    labels[0] = 255
    cos = (F.normalize(x, dim=1) @ F.normalize(x, dim=1).t()).abs()
    sp = sn = npos = nneg = 0
    for i in range(10):
        for j in range(10):
            if 255 in (labels[i], labels[j]):
                continue
            if labels[i] == labels[j] and i != j:
                sp, npos = sp + cos[i, j], npos + 1
            elif labels[i] != labels[j]:
                sn, nneg = sn + cos[i, j], nneg + 1
    want = 0.5 * (1 - sp / (npos + 1)) + 0.5 * sn / (nneg + 1)
    assert torch.allclose(correspondence_loss_code(x, labels), want, atol=1e-6)


def test_cam_distribution_modes():
    logits = torch.tensor([[-1.0, 2.0, 0.0], [-1.0, -2.0, -3.0]])
    assert torch.allclose(cam_distribution(logits, 'softmax').sum(-1), torch.ones(2))
    l1 = cam_distribution(logits, 'l1')
    assert l1[0, 1] > 0.99 and torch.allclose(l1[1], torch.full((3, ), 1 / 3))
