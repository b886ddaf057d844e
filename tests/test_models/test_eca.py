"""ECA (ACM MM 2024): each equation against a direct transcription on random inputs, values and gradients."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmseg_wsss.models.losses.eca import cam_distribution, correspondence_loss_code, correspondence_loss_js
from mmseg_wsss.models.pseudo_labels.carm_ops import (background_cam, calibrate, class_aware_maps, foreground_cue,
                                                      key_affinity, prototype_similarity, prototype_sums, seed_count,
                                                      select_seeds)
from mmseg_wsss.utils.cam_ops import minmax
from mmseg_wsss.models.utils import ClassMemory


def test_background_cam_eq2():
    cams = torch.rand(2, 3, 10)
    assert torch.allclose(background_cam(cams), 1 - cams.max(1)[0])


def seeds_reference(cams, classes, top_k, bg, count, bg_cams):
    """Slow transcription of the official code's seed selection (modules/label_from_dino.py) for one image, cams
    (K, N), with the paper's options: the ranking map ``cams[0]`` has background 1 - max over the CAMs (all of
    them in the code), foreground the raw CAMs; the argmax map ``cams_t`` is [bg, CAMs x labels] (bg = 0.45 in
    the code, Eq. 2 in the paper), argmax over all channels (first maximum); per labelled class c, n = nonzero
    count of ranking[c] * (argmax == c), k = round(n * topk) + 1 (Python floats), topk of that masked map.
    Returns the seeds (K + 1, N) bool and the masked ranking maps (K + 1, N) (ties are broken arbitrarily)."""
    K, N = cams.shape
    vals = cams.tolist()
    lab = [bool(x) for x in classes.tolist()]
    masked = [[vals[k][i] if lab[k] else 0.0 for i in range(N)] for k in range(K)]
    src = vals if bg_cams == 'all' else masked
    m0 = [1.0 - max(src[k][i] for k in range(K)) for i in range(N)]
    arg_bg = m0 if bg == 'paper' else [bg] * N
    rows = [arg_bg] + masked
    owner = [max(range(K + 1), key=lambda c: (rows[c][i], -c)) for i in range(N)]
    ranking = [m0] + vals
    out = torch.zeros(K + 1, N, dtype=torch.bool)
    regions = torch.zeros(K + 1, N, dtype=torch.float64)
    for c in [0] + [k + 1 for k in range(K) if lab[k]]:
        region = [ranking[c][i] if owner[i] == c else 0.0 for i in range(N)]
        regions[c] = torch.tensor(region, dtype=torch.float64)
        n = sum(v != 0 for v in region)
        if n == 0:
            continue  # the code's topk would return one zero-valued position; we take none (documented)
        k = round(n * top_k) + 1 if count == 'code' else max(1, round(n * top_k))
        order = sorted(range(N), key=lambda i: -region[i])
        out[c, order[:k]] = True
    return out, regions


@pytest.mark.parametrize('bg_cams', ['all', 'labels'])
@pytest.mark.parametrize('count', ['paper', 'code'])
@pytest.mark.parametrize('bg', ['paper', 0.45])
def test_select_seeds_eq3(count, bg, bg_cams):
    torch.manual_seed(1)
    cams = torch.rand(3, 4, 40, dtype=torch.float64)
    cams[cams < 0.3] = 0
    classes = torch.tensor([[1, 0, 1, 0], [0, 1, 1, 1], [0, 0, 1, 0]])
    seeds = select_seeds(cams, classes, 0.3, bg, count, bg_cams)
    for b in range(3):
        want, region = seeds_reference(cams[b], classes[b], 0.3, bg, count, bg_cams)
        for c in range(5):  # same number of seeds, inside the region, the same ranking values (ties: any of them)
            assert int(seeds[b, c].sum()) == int(want[c].sum()), (b, c)
            assert (region[c][seeds[b, c]] > 0).all()
            assert region[c][seeds[b, c]].sort()[0].tolist() == region[c][want[c]].sort()[0].tolist(), (b, c)


def test_select_seeds_eq2_background_over_all_cams_when_an_absent_class_activates():
    """Eq. 2 takes the max over all C foreground CAMs: an absent class that activates lowers M_0 there."""
    cams = torch.tensor([[[0.1, 0.2, 0.3, 0.7, 0.8, 0.9],          # labelled
                          [0.95, 0.0, 0.0, 0.0, 0.0, 0.0]]])       # absent, but activating at position 0
    classes = torch.tensor([[1, 0]])
    got = lambda bg, bg_cams: {c: set(select_seeds(cams, classes, 0.3, bg, 'paper' if bg == 'paper' else 'code',
                                                   bg_cams)[0, c].nonzero()[:, 0].tolist()) for c in range(3)}
    # paper: M_0 = [0.05, 0.8, 0.7, 0.3, 0.2, 0.1]; I_cam: bg at 1, 2; one seed each
    assert got('paper', 'all') == {0: {1}, 1: {5}, 2: set()}
    # label-masked variant (our former default): M_0(0) = 0.9 makes position 0 the background seed
    assert got('paper', 'labels') == {0: {0}, 1: {5}, 2: set()}
    # code: I_cam from the constant 0.45 (bg at 0, 1, 2), ranked by 1 - max CAM; round(0.9) + 1 = 2 seeds
    assert got(0.45, 'all') == {0: {1, 2}, 1: {4, 5}, 2: set()}
    assert got(0.45, 'labels') == {0: {0, 1}, 1: {4, 5}, 2: set()}


def test_select_seeds_code_constant_ranks_background_by_eq2():
    """With the constant (code), the background seeds are the highest 1 - max CAM of the background region, not
    an arbitrary tie-break of a constant row."""
    torch.manual_seed(0)
    cams = torch.rand(2, 3, 200) * 0.5                             # most positions below 0.45: background
    classes = torch.tensor([[1, 1, 0], [0, 1, 1]])
    seeds = select_seeds(cams, classes, 0.3, 0.45, 'code')
    for b in range(2):
        region = (cams[b] * classes[b, :, None]).max(0)[0] < 0.45
        m0 = 1 - cams[b].max(0)[0]
        n = int(region.sum())
        want = set(torch.where(region, m0, torch.zeros(())).topk(round(0.3 * n) + 1).indices.tolist())
        assert set(seeds[b, 0].nonzero()[:, 0].tolist()) == want


def test_seed_count_is_pythons_round_of_the_float64_product():
    n = torch.arange(4097)
    code, paper = seed_count(n, 0.3, 'code'), seed_count(n, 0.3, 'paper')
    assert code.tolist() == [min(round(int(i) * 0.3) + 1, int(i)) for i in n]
    assert paper.tolist() == [max(1, round(int(i) * 0.3)) if i else 0 for i in n]
    assert code[95].item() == 29 and code[175].item() == 53      # 28.5 -> 28, 52.5 -> 52 (half to even)
    # the former float32 product rounds these up: one seed more (the test above would fail with it)
    assert (0.3 * n[[95, 175]].float()).round().long().tolist() == [29, 53]
    wrong = [int(i) for i in n if round(int(i) * 0.3) != int((0.3 * i.float()).round())]
    assert len(wrong) == 81 and wrong[:2] == [95, 175]


@pytest.mark.parametrize('n', [95, 175])
def test_select_seeds_code_count_for_95_and_175(n):
    cams = torch.zeros(1, 1, 300, dtype=torch.float32)
    cams[0, 0, :n] = torch.linspace(0.5, 1.0, n)                   # exactly n positions above the 0.45 constant
    seeds = select_seeds(cams, torch.ones(1, 1, dtype=torch.long), 0.3, 0.45, 'code')
    assert int(seeds[0, 1].sum()) == round(n * 0.3) + 1 == {95: 29, 175: 53}[n]


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


def calibration_reference(a, cos):
    """Slow transcription of the official code's calibration of one image's class map a (h, w) with the cosine
    cos (h, w) of its features and the class prototype: sim[sim < 0] = 0; sim = sim ** 1.5; sim = sim - min;
    sim /= max + 1e-5; a = sim * a (no renormalisation)."""
    sim = cos.clone()
    sim[sim < 0] = 0
    sim = sim ** 1.5
    sim = sim + F.adaptive_max_pool2d(-sim[None, None], (1, 1))[0, 0]
    sim = sim / (F.adaptive_max_pool2d(sim[None, None], (1, 1))[0, 0] + 1e-5)
    return sim * a


def test_calibration_code_form_is_a_times_minmax_of_relu_cos_to_the_1_5():
    torch.manual_seed(0)
    feats, protos = torch.randn(2, 6, 5, 4, dtype=torch.float64), torch.randn(3, 6, dtype=torch.float64)
    feats = feats + 2 * protos[0][None, :, None, None]              # cosines mostly positive: min S > 0
    carm = torch.rand(2, 3, 20, dtype=torch.float64, requires_grad=True)
    sim = prototype_similarity(feats.flatten(2), protos)             # Eq. 9, ReLU'd cosine
    assert (sim.min(-1)[0] > 0).any()
    got = calibrate(carm, sim, 1.5, renorm=False, norm_similarity=True)
    want = torch.stack([torch.stack([calibration_reference(
        carm[b, c].view(5, 4), F.cosine_similarity(feats[b], protos[c][:, None, None], dim=0)).flatten()
        for c in range(3)]) for b in range(2)])
    assert torch.allclose(got, want, atol=1e-10)
    g_got, = torch.autograd.grad(got.square().sum(), carm)
    g_want, = torch.autograd.grad(want.square().sum(), carm)
    assert torch.allclose(g_got, g_want, atol=1e-10)
    # the former form, a * minmax(S)^1.5, is not the code's when min S > 0
    assert not torch.allclose(carm * minmax(sim) ** 1.5, want, atol=1e-4)
    # the paper's default is unchanged: minmax(a * S^2)
    assert torch.allclose(calibrate(carm, sim), minmax(carm * sim ** 2))


def present_old(lab, img_labels):
    """The former CARMPseudoLabel._present (classes='cam_label'): K full-resolution comparisons and any()."""
    K = img_labels.shape[1]
    hot = torch.stack([(lab == k + 1).flatten(1).any(dim=1) for k in range(K)], dim=1)
    return hot.to(img_labels.dtype) * img_labels


@pytest.mark.parametrize('dtype', [torch.long, torch.uint8])
def test_carm_present_cam_label_bincount_equals_the_former_comparisons(dtype):
    from types import SimpleNamespace

    from mmseg_wsss.models.pseudo_labels.carm_pseudo_label import CARMPseudoLabel
    carm = CARMPseudoLabel(classes='cam_label', refine=None)
    gen = torch.Generator().manual_seed(0)
    for trial in range(20):
        B, K = 4, 20
        lab = torch.randint(0, K + 1, (B, 17, 23), generator=gen)
        lab[torch.rand(lab.shape, generator=gen) < 0.2] = 255
        lab[0] = torch.where(lab[0] > 5, 0, lab[0])                # an image with few classes
        lab[1] = 255 if trial % 2 else 0                           # an image with none
        lab = lab.to(dtype)
        img_labels = (torch.rand(B, K, generator=gen) < 0.5).long()
        ctx = SimpleNamespace(pseudo_label=lambda name: lab, img_labels=img_labels)
        got = carm._present(ctx)
        want = present_old(lab, img_labels)
        assert got.dtype == want.dtype and torch.equal(got, want), trial


class _CARMContext:
    """The few context methods CARMPseudoLabel.maps reads, with fixed CAMs, DINO keys and features."""

    def __init__(self, cams, img_labels, keys, cls_query, grid, feats):
        self.cams, self.img_labels, self.feats, self.training = cams, img_labels, [feats], False
        self.enc = dict(grid=grid, keys=keys, cls_query=cls_query)

    def map(self, name, kinds):
        return self.cams

    def map_kind(self, name, kinds):
        return 'normalized'

    def encoded(self, name):
        return self.enc


def _carm_inputs():
    torch.manual_seed(0)
    B, K, h, w = 2, 3, 4, 4
    cams = torch.rand(B, K, 16, 16)
    img_labels = torch.tensor([[1, 1, 0], [0, 1, 1]])
    cams[0, 2, :8] = 0.99                                           # image 0: absent class 2 activating
    cams[1, 0, 8:] = 0.99                                           # image 1: absent class 0 activating
    keys, cls_query = torch.randn(B, h * w, 6), torch.randn(B, 6)
    feats = torch.randn(B, 5, h, w)
    return _CARMContext(cams, img_labels, keys, cls_query, (h, w), feats)


def test_carm_maps_background_cams_option_reaches_select_seeds():
    from mmseg_wsss.models.pseudo_labels.carm_pseudo_label import CARMPseudoLabel
    ctx = _carm_inputs()
    assert CARMPseudoLabel(refine=None).seed_bg_cams == 'all'       # the paper's Eq. 2 is the default
    small = F.interpolate(ctx.cams, size=(4, 4), mode='bilinear', align_corners=False).flatten(2)
    aff, cue = key_affinity(ctx.enc['keys']), foreground_cue(ctx.enc['cls_query'], ctx.enc['keys'])
    maps = {}
    for bg_cams in ('all', 'labels'):
        seeds = select_seeds(small, ctx.img_labels, 0.3, 'paper', 'paper', bg_cams)
        want = minmax(minmax(class_aware_maps(seeds, aff, cue, 0.15)))
        want = want * torch.cat([torch.ones(2, 1, dtype=torch.long), ctx.img_labels], 1)[..., None]
        kwargs = {} if bg_cams == 'all' else dict(seed_bg_cams='labels')
        maps[bg_cams] = CARMPseudoLabel(scales=(1.0, ), refine=None, **kwargs).maps(ctx)
        assert torch.allclose(maps[bg_cams].flatten(2), want, atol=1e-6), bg_cams
    assert not torch.allclose(maps['all'], maps['labels'])          # the absent classes change M_0's seeds
    with pytest.raises(ValueError):
        CARMPseudoLabel(seed_bg_cams='max', refine=None)


def test_carm_maps_code_calibration_is_the_official_form():
    from mmseg_wsss.models.pseudo_labels.carm_pseudo_label import CARMPseudoLabel
    ctx = _carm_inputs()
    common = dict(scales=(1.0, ), refine=None, memory=dict(num_classes=3, dim=5, sync=False))
    plain = CARMPseudoLabel(scales=(1.0, ), refine=None).maps(ctx)
    code = CARMPseudoLabel(**common, calib_power=1.5, calib_renorm=False, calib_norm_similarity=True)
    torch.manual_seed(1)
    v = torch.randn(5)                                              # features and prototypes near v: min S > 0
    ctx.feats[0] = v[None, :, None, None] + 0.3 * torch.randn(2, 5, 4, 4)
    code.memory.bank.copy_(v + 0.3 * torch.randn(3, 5))
    got = code.maps(ctx, update_memory=False)
    assert torch.equal(got[:, 0], plain[:, 0])                      # the background is not calibrated
    former = []
    for b in range(2):
        for c in range(3):
            if not ctx.img_labels[b, c]:
                assert (got[b, c + 1] == 0).all()
                continue
            cos = F.cosine_similarity(ctx.feats[0][b], code.memory.bank[c][:, None, None], dim=0)
            assert cos.min() > 0.05
            assert torch.allclose(got[b, c + 1], calibration_reference(plain[b, c + 1], cos), atol=1e-5), (b, c)
            former.append(torch.allclose(got[b, c + 1], plain[b, c + 1] * minmax(cos.relu().flatten()).view(4, 4)
                                         ** 1.5, atol=1e-4))
    assert not any(former)                                          # a * minmax(S)^1.5 (before) differs


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
        before = js_direct(logits.softmax(-1)[0, 0].tolist(), logits.softmax(-1)[0, 1].tolist())
        correspondence_loss_js(logits.softmax(-1), labels, reading).sum().backward()
        with torch.no_grad():
            after_logits = logits - 0.5 * logits.grad
        after = js_direct(after_logits.softmax(-1)[0, 0].tolist(), after_logits.softmax(-1)[0, 1].tolist())
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


def masked_ptc_reference(cams, labels):
    """Slow transcription of the official code's ``get_masked_ptc_loss(local_cams_i, label_to_aff_mask(...))`` for
    one image: cams (V, C, N) of its V views, labels (V, N). The mask is per view (1 = same label, 0 = different,
    255 = i == j or either ignored); |cosine| (eps 1e-8) within each view; sums and counts over all views."""
    V, C, N = cams.shape
    sp, sn, npos, nneg = cams.new_zeros(()), cams.new_zeros(()), 0, 0
    for v in range(V):
        for i in range(N):
            for j in range(N):
                li, lj = int(labels[v, i]), int(labels[v, j])
                if i == j or li == 255 or lj == 255:
                    continue
                xi, xj = cams[v, :, i], cams[v, :, j]
                cos = (xi @ xj).abs() / (xi.norm().clamp_min(1e-8) * xj.norm().clamp_min(1e-8))
                if li == lj:
                    sp, npos = sp + cos, npos + 1
                else:
                    sn, nneg = sn + cos, nneg + 1
    return 0.5 * (1 - sp / (npos + 1)) + 0.5 * sn / (nneg + 1)


def test_correspondence_code_form_is_per_view_cosine_with_counts_over_views():
    torch.manual_seed(0)
    logits = torch.randn(2, 9, 4, dtype=torch.float64, requires_grad=True)       # V, N, C
    labels = torch.randint(0, 3, (2, 9))
    labels[0, 0] = labels[1, 4] = 255
    got = correspondence_loss_code(logits, labels)
    want = masked_ptc_reference(logits.transpose(1, 2), labels)
    assert torch.allclose(got, want, atol=1e-10)
    g_got, = torch.autograd.grad(got, logits)
    g_want, = torch.autograd.grad(want, logits)
    assert torch.allclose(g_got, g_want, atol=1e-10)
    # the former form pooled both views into one set (pairs across views too): a different value
    pooled = correspondence_loss_code(logits.reshape(1, 18, 4), labels.reshape(1, 18))
    assert abs(pooled.item() - want.item()) > 1e-3


def test_correspondence_term_code_form_matches_the_official_alignment_loss():
    """CAMCorrespondenceLoss(form='code') = sum over images of the per-image loss / (B x views), as the
    official AlignmentLoss; the local views are fixed here (the crops are random)."""
    from types import SimpleNamespace

    from mmseg_wsss.models.loss_terms.correspondence import CAMCorrespondenceLoss
    torch.manual_seed(0)
    B, V, C, g = 3, 2, 4, 5
    term = CAMCorrespondenceLoss(num_views=V, view_size=8, grid=g, form='code')
    view_labels = torch.randint(0, 3, (B * V, g, g))
    view_labels[0, 0, :2] = 255
    term.local_views = lambda images, labels: (images, view_labels)
    logits = torch.randn(B * V, C, g, g, dtype=torch.float64, requires_grad=True)
    ctx = SimpleNamespace(images=torch.zeros(B * V, 3, 8, 8), batch_size=B, cam_logits_fn=lambda views: logits)
    got = term(ctx, labels=torch.zeros(B, 8, 8, dtype=torch.long))['loss']
    want = sum(masked_ptc_reference(logits[b * V:(b + 1) * V].flatten(2), view_labels[b * V:(b + 1) * V].flatten(1))
               for b in range(B)) / (B * V)
    assert torch.allclose(got, want, atol=1e-10)
    g_got, = torch.autograd.grad(got, logits)
    g_want, = torch.autograd.grad(want, logits)
    assert torch.allclose(g_got, g_want, atol=1e-10)


def test_cam_distribution_modes():
    logits = torch.tensor([[-1.0, 2.0, 0.0], [-1.0, -2.0, -3.0]])
    assert torch.allclose(cam_distribution(logits, 'softmax').sum(-1), torch.ones(2))
    l1 = cam_distribution(logits, 'l1')
    assert l1[0, 1] > 0.99 and torch.allclose(l1[1], torch.full((3, ), 1 / 3))


# The CARM's official-code options, one value check each where the previous tests check only the functions (the
# options' own functions are checked against their equations above): each option reaches its function and
# changes the maps, and the four the functions do not cover (calib_min_classes, proto_update, bg_clip) against a
# direct computation.
@pytest.mark.parametrize('option', [dict(seed_bg=0.45), dict(seed_count='code'), dict(fg_mode='binary')],
                         ids=['seed_bg', 'seed_count', 'fg_mode'])
def test_carm_seed_and_propagation_options_reach_their_functions(option):
    from mmseg_wsss.models.pseudo_labels.carm_pseudo_label import CARMPseudoLabel
    ctx = _carm_inputs()
    small = F.interpolate(ctx.cams, size=(4, 4), mode='bilinear', align_corners=False).flatten(2)
    aff, cue = key_affinity(ctx.enc['keys']), foreground_cue(ctx.enc['cls_query'], ctx.enc['keys'])
    seeds = select_seeds(small, ctx.img_labels, 0.3, option.get('seed_bg', 'paper'), option.get('seed_count', 'paper'))
    want = minmax(minmax(class_aware_maps(seeds, aff, cue, 0.15, option.get('fg_mode', 'continuous'), -0.5)))
    want = want * torch.cat([torch.ones(2, 1, dtype=torch.long), ctx.img_labels], 1)[..., None]
    got = CARMPseudoLabel(scales=(1.0, ), refine=None, **option).maps(ctx)
    assert torch.allclose(got.flatten(2), want, atol=1e-6)
    assert not torch.allclose(got, CARMPseudoLabel(scales=(1.0, ), refine=None).maps(ctx))


def test_carm_calib_min_classes_skips_single_class_images():
    """calib_min_classes=2 (code): an image with one labelled class keeps its uncalibrated maps; one with two is
    calibrated as with the paper's 1."""
    from mmseg_wsss.models.pseudo_labels.carm_pseudo_label import CARMPseudoLabel
    ctx = _carm_inputs()
    ctx.img_labels = torch.tensor([[1, 1, 0], [0, 1, 0]])
    mem = dict(num_classes=3, dim=5, sync=False)
    torch.manual_seed(3)
    bank = torch.randn(3, 5)
    out = {}
    for n in (1, 2):
        carm = CARMPseudoLabel(scales=(1.0, ), refine=None, memory=mem, calib_min_classes=n)
        carm.memory.bank.copy_(bank)
        out[n] = carm.maps(ctx, update_memory=False)
    plain = CARMPseudoLabel(scales=(1.0, ), refine=None).maps(ctx)
    assert torch.equal(out[2][0], out[1][0]) and not torch.allclose(out[1][0, 1:], plain[0, 1:])
    assert torch.equal(out[2][1], plain[1]) and not torch.allclose(out[1][1, 2], plain[1, 2])


@pytest.mark.parametrize('update', ['seeds', 'top'])
def test_carm_prototype_update_forms(update):
    """proto_update: 'seeds' (paper Eq. 8: mean feature at each present class's CAM seeds) or 'top' (code: at the
    proto_top highest calibrated positions of each present class, after calibration), momentum 0.9."""
    from mmseg_wsss.models.pseudo_labels.carm_pseudo_label import CARMPseudoLabel
    ctx = _carm_inputs()
    torch.manual_seed(4)
    bank = torch.randn(3, 5)
    carm = CARMPseudoLabel(scales=(1.0, ), refine=None, memory=dict(num_classes=3, dim=5, sync=False, momentum=0.9),
                           proto_update=update, proto_top=3)
    carm.memory.bank.copy_(bank)
    got = carm.maps(ctx, update_memory=True)
    feats = ctx.feats[0].flatten(2).numpy()                              # B, D, N (grid = feature size)
    if update == 'top':
        picked = [[set(got[b, c + 1].flatten().numpy().argsort()[::-1][:3]) if ctx.img_labels[b, c] else set()
                   for c in range(3)] for b in range(2)]
    else:
        small = F.interpolate(ctx.cams, size=(4, 4), mode='bilinear', align_corners=False).flatten(2)
        seeds = select_seeds(small, ctx.img_labels, 0.3)[:, 1:]
        picked = [[set(seeds[b, c].nonzero()[:, 0].tolist()) for c in range(3)] for b in range(2)]
    want = bank.clone()
    for c in range(3):
        vecs = [feats[b][:, i] for b in range(2) for i in sorted(picked[b][c])]
        if vecs:
            want[c] = 0.9 * bank[c] + 0.1 * torch.tensor(sum(vecs) / len(vecs))
    if update == 'top':  # no ties among the picked positions (the maps' zeros would make the order arbitrary)
        assert all((got[b, c + 1].flatten().sort(descending=True).values[:4].diff() < 0).all()
                   for b in range(2) for c in range(3) if ctx.img_labels[b, c])
    assert torch.allclose(carm.memory.bank, want, atol=1e-5)
    assert sum(len(p) for row in picked for p in row) > 0


def test_carm_bg_clip_clamps_the_background_before_the_argmax():
    """bg_clip=(0.1, 0.6) (code): the label is the argmax over [clamp(M_bg, 0.1, 0.6), labelled classes] upsampled
    to the crop; absent classes never win."""
    from mmseg_wsss.models.pseudo_labels.carm_pseudo_label import CARMPseudoLabel
    ctx = _carm_inputs()
    ctx.inputs = torch.zeros(2, 3, 16, 16)
    clipped = CARMPseudoLabel(scales=(1.0, ), refine=None, bg_clip=(0.1, 0.6))
    maps = clipped.maps(ctx)
    label = clipped(ctx)
    scores = torch.cat([maps[:, :1].clamp(0.1, 0.6), maps[:, 1:]], 1)
    scores[:, 1:][~ctx.img_labels.bool()] = -1.0
    want = F.interpolate(scores, size=(16, 16), mode='bilinear', align_corners=False).argmax(1)
    assert torch.equal(label, want)
    plain = CARMPseudoLabel(scales=(1.0, ), refine=None)(ctx)
    assert not torch.equal(label, plain)
    for b in range(2):
        assert set(label[b].unique().tolist()) <= {0} | {c + 1 for c in range(3) if ctx.img_labels[b, c]}


def test_carm_prototypes_from_the_backbone_features_when_asked():
    """features='backbone': the prototypes (update and calibration) come from ``ctx.backbone_feats`` (a frozen
    tower's tokens before a neck), the same result as those features given as ``ctx.feats``."""
    from mmseg_wsss.models.pseudo_labels.carm_pseudo_label import CARMPseudoLabel
    ctx = _carm_inputs()
    mem = dict(num_classes=3, dim=5, sync=False, momentum=0.9)
    torch.manual_seed(5)
    bank = torch.randn(3, 5)
    ref = CARMPseudoLabel(scales=(1.0, ), refine=None, memory=mem)
    ref.memory.bank.copy_(bank)
    want = ref.maps(ctx, update_memory=True)
    ctx.backbone_feats, ctx.feats = [ctx.feats[0]], [torch.randn(2, 7, 4, 4)]      # a neck's 7-channel map
    carm = CARMPseudoLabel(scales=(1.0, ), refine=None, memory=mem, features='backbone')
    carm.memory.bank.copy_(bank)
    assert torch.equal(carm.maps(ctx, update_memory=True), want) and torch.equal(carm.memory.bank, ref.memory.bank)
    with pytest.raises(ValueError, match="features must be 'neck' or 'backbone'"):
        CARMPseudoLabel(features='tower', refine=None)
