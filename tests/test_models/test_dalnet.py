"""DALNet's equations (papers/facts/dalnet.md: E1-E5, Eqs. 6-7) against loop transcriptions written from the facts
file, on random inputs, with their gradients and edge cases; and its parts joined in a model."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from mmseg_wsss.models.losses.dalnet import (alignment_similarity, cam_labels, cross_contrastive_loss, gia_loss,
                                             lea_loss, patch_text_cams, region_means)
from tests.conftest import ROOT

DALNET_TOY = f'{ROOT}/configs/toy/dalnet_toy-clip_1xb8-2k_toy-112x112.py'
EPS = 1e-4


def cos(a, b):
    return float(torch.dot(a, b) / (a.norm() * b.norm()))


def s_clamp(c):
    return min(max(c, EPS), 1 - EPS)


def inputs(B=3, K=4, N=10, D=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    text = F.normalize(torch.randn(K, D, generator=g), dim=-1)
    bg = F.normalize(torch.randn(D, generator=g), dim=-1)
    # tokens near their texts, so cosines cover (0, 1) and the clamp's inside
    patches = torch.randn(B, N, D, generator=g) + 2 * text[torch.randint(0, K, (B, N), generator=g)]
    cls = torch.randn(B, D, generator=g) + text[:2].sum(0)
    y = torch.zeros(B, K)
    y[0, 0] = 1                     # one class
    y[1] = 1                        # all classes
    y[2, [1, 3]] = 1
    return cls, patches, text, bg, y


@pytest.mark.parametrize('form', ['clamp', 'affine', 'sigmoid'])
def test_similarity_forms(form):
    c = torch.linspace(-1, 1, 11)
    ref = {'clamp': c, 'affine': (1 + c) / 2, 'sigmoid': torch.sigmoid(c / 0.07)}[form].clamp(EPS, 1 - EPS)
    assert torch.allclose(alignment_similarity(c, form), ref)
    with pytest.raises(ValueError, match='similarity form'):
        alignment_similarity(c, 'softplus')


@pytest.mark.parametrize('classes,absent_push', [('sum', False), ('mean', False), ('sum', True)])
def test_gia_matches_transcription(classes, absent_push):
    v, _, text, bg, y = inputs()
    ref = 0.0
    for b in range(len(v)):
        present = [c for c in range(len(text)) if y[b, c]]
        pull = -sum(math.log(s_clamp(cos(v[b], text[c]))) for c in present)
        if classes == 'mean':
            pull /= max(len(present), 1)
        l_b = pull - math.log(1 - s_clamp(cos(v[b], bg)))
        if absent_push:
            l_b -= sum(math.log(1 - s_clamp(cos(v[b], text[c]))) for c in range(len(text)) if not y[b, c])
        ref += l_b / len(v)
    assert gia_loss(v, text, bg, y, classes=classes, absent_push=absent_push).item() == pytest.approx(ref, rel=1e-5)


def test_gia_gradient():
    v, _, text, bg, y = (t.double() for t in inputs())
    v.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: gia_loss(x, text, bg, y, form='affine'), (v, ))


def test_patch_text_cams_and_labels():
    _, p, text, _, y = inputs()
    cams = patch_text_cams(p, text, y)
    B, K, N = cams.shape
    for b in range(B):
        for c in range(K):
            raw = [max(cos(p[b, j], text[c]), 0.0) * float(y[b, c]) for j in range(N)]
            top = max(raw)
            for j in range(N):
                assert cams[b, c, j].item() == pytest.approx(raw[j] / (top + 1e-5), abs=1e-6)
    labels = cam_labels(cams, 0.5)
    for b in range(B):
        for j in range(N):
            col = [cams[b, c, j].item() for c in range(K)]
            want = 1 + col.index(max(col)) if max(col) > 0.5 else 0
            assert labels[b, j].item() == want
    # a tie with beta is background; an image without labels is all background
    assert cam_labels(torch.full((1, 2, 3), 0.5), 0.5).eq(0).all()
    assert patch_text_cams(p, text, torch.zeros_like(y)).eq(0).all()


def lea_reference(p, mask, text, bg, y, bg_push='sum'):
    total, count = 0.0, 0
    B, N, _ = p.shape
    for b in range(B):
        present = [c for c in range(len(text)) if y[b, c]]
        for j in range(N):
            k = int(mask[b, j])
            if k == 255 or (k > 0 and not y[b, k - 1]):
                continue
            if k >= 1:
                l_j = -math.log(s_clamp(cos(p[b, j], text[k - 1]))) - math.log(1 - s_clamp(cos(p[b, j], bg)))
            else:
                push = -sum(math.log(1 - s_clamp(cos(p[b, j], text[c]))) for c in present)
                if bg_push == 'mean':
                    push /= max(len(present), 1)
                if bg_push == 'none':
                    push = 0.0
                l_j = -math.log(s_clamp(cos(p[b, j], bg))) + push
            total, count = total + l_j, count + 1
    return total / count if count else 0.0


def random_mask(y, N, seed=1):
    g = torch.Generator().manual_seed(seed)
    B, K = y.shape
    mask = torch.zeros(B, N, dtype=torch.long)
    for b in range(B):
        choices = [0] + [c + 1 for c in range(K) if y[b, c]]
        mask[b] = torch.tensor(choices)[torch.randint(0, len(choices), (N, ), generator=g)]
    mask[0, 0] = 255
    mask[2, 1] = 1  # class 0 is not among image 2's labels: ignored
    return mask


@pytest.mark.parametrize('bg_push', ['sum', 'mean', 'none'])
def test_lea_matches_transcription(bg_push):
    _, p, text, bg, y = inputs()
    mask = random_mask(y, p.shape[1])
    ref = lea_reference(p, mask, text, bg, y, bg_push)
    assert lea_loss(p, mask, text, bg, y, bg_push=bg_push).item() == pytest.approx(ref, rel=1e-5)


def test_lea_softmax_form_and_edge_cases():
    _, p, text, bg, y = inputs()
    mask = random_mask(y, p.shape[1])
    ref, n = 0.0, 0
    for b in range(p.shape[0]):
        allowed = [0] + [c + 1 for c in range(len(text)) if y[b, c]]
        for j in range(p.shape[1]):
            k = int(mask[b, j])
            if k == 255 or k not in allowed:
                continue
            logits = torch.tensor([cos(p[b, j], bg)] + [cos(p[b, j], text[c - 1]) for c in allowed[1:]]) / 0.07
            ref += float(-logits.log_softmax(0)[allowed.index(k)])
            n += 1
    assert lea_loss(p, mask, text, bg, y, loss_form='softmax').item() == pytest.approx(ref / n, rel=1e-5)
    # no foreground in the mask, no background in it: still the transcription; all ignored: 0 with a zero gradient
    for m in (torch.zeros_like(mask), torch.where(mask == 0, torch.ones_like(mask), mask)):
        yy = y.clone()
        yy[:, 0] = 1  # class 0 present wherever the mask says 1
        assert lea_loss(p, m, text, bg, yy).item() == pytest.approx(lea_reference(p, m, text, bg, yy), rel=1e-5)
    x = p.clone().requires_grad_(True)
    out = lea_loss(x, torch.full_like(mask, 255), text, bg, y)
    out.backward()
    assert out.item() == 0 and torch.isfinite(x.grad).all() and x.grad.abs().sum() == 0


def test_lea_gradient():
    _, p, text, bg, y = (t.double() for t in inputs(N=6))
    mask = random_mask(y, 6)
    p.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: lea_loss(x, mask, text, bg, y, form='affine'), (p, ))
    assert torch.autograd.gradcheck(lambda x: lea_loss(x, mask, text, bg, y, loss_form='softmax'), (p, ))


def test_region_means_hard_and_soft():
    _, p, text, _, y = inputs()
    mask = random_mask(y, p.shape[1])
    K = text.shape[0]
    f, has_f, f_bg, has_bg = region_means(p, mask, K)
    for b in range(p.shape[0]):
        for k in range(K + 1):
            idx = [j for j in range(p.shape[1]) if int(mask[b, j]) == k]
            got = (f_bg[b], has_bg[b]) if k == 0 else (f[b, k - 1], has_f[b, k - 1])
            assert bool(got[1]) == bool(idx)
            if idx:
                assert torch.allclose(got[0], p[b, idx].mean(0), atol=1e-6)
    w = torch.rand(p.shape[0], K, p.shape[1])
    f, has_f, f_bg, _ = region_means(p, mask, K, weights=w)
    valid = (mask != 255).float()
    b, c = 1, 2
    assert torch.allclose(f[b, c], (w[b, c] * valid[b]) @ p[b] / (w[b, c] * valid[b]).sum(), atol=1e-5)
    wb = (1 - w[b].max(0)[0]) * valid[b]
    assert torch.allclose(f_bg[b], wb @ p[b] / wb.sum(), atol=1e-5)


def cc_reference(f, has_f, f_bg, has_bg, text, bg, y, tau=1.0, lam=0.001, directions='both', negatives='background'):
    pairs, bgs = [], []
    B, K = y.shape
    for b in range(B):
        present = [c for c in range(K) if y[b, c]]
        for c in present:
            if not has_f[b, c]:
                continue
            texts = [text[c], bg] + ([text[o] for o in present if o != c] if negatives == 'classes' else [])
            i2t = -torch.tensor([cos(f[b, c], t) / tau for t in texts]).log_softmax(0)[0]
            regions = [f[b, c]] + ([f_bg[b]] if has_bg[b] else [])
            if negatives == 'classes':
                regions += [f[b, o] for o in present if o != c and has_f[b, o]]
            t2i = -torch.tensor([cos(text[c], r) / tau for r in regions]).log_softmax(0)[0]
            pairs.append({'both': (i2t + t2i) / 2, 'i2t': i2t, 't2i': t2i}[directions])
        if has_bg[b]:
            bgs.append(-torch.tensor([cos(f_bg[b], t) / tau for t in [bg] + [text[c] for c in present]])
                       .log_softmax(0)[0])
    mean = (lambda v: float(sum(v)) / len(v) if v else 0.0)
    return mean(pairs) + lam * mean(bgs)


@pytest.mark.parametrize('directions,negatives,tau,lam', [
    ('both', 'background', 1.0, 0.001), ('i2t', 'background', 0.2, 0.5), ('t2i', 'classes', 0.5, 0.1),
    ('both', 'classes', 1.0, 0.001)])
def test_cross_contrastive_matches_transcription(directions, negatives, tau, lam):
    _, p, text, bg, y = inputs()
    f, has_f, f_bg, has_bg = region_means(p, random_mask(y, p.shape[1]), text.shape[0])
    has_f[1, 2] = False  # a present class whose region is empty: no pair
    has_bg[0] = False    # an image without a background region: t2i has only its positive
    ref = cc_reference(f, has_f, f_bg, has_bg, text, bg, y, tau, lam, directions, negatives)
    got = cross_contrastive_loss(f, has_f, f_bg, has_bg, text, bg, y, tau, lam, directions, negatives)
    assert got.item() == pytest.approx(ref, rel=1e-5)


def test_cross_contrastive_gradient_and_empty_batch():
    _, p, text, bg, y = (t.double() for t in inputs(N=6))
    mask = random_mask(y, 6)
    p.requires_grad_(True)

    def fn(x):
        f, has_f, f_bg, has_bg = region_means(x, mask, text.shape[0])
        return cross_contrastive_loss(f, has_f, f_bg, has_bg, text, bg, y, negatives='classes')

    assert torch.autograd.gradcheck(fn, (p, ))
    f, has_f, f_bg, has_bg = region_means(p, torch.full_like(mask, 255), text.shape[0])
    out = cross_contrastive_loss(f, has_f, f_bg, has_bg, text, bg, y)
    out.backward()
    assert out.item() == 0 and torch.isfinite(p.grad).all()


# ---------------------------------------------------------------- the parts in a model

def toy_model(**model_overrides):
    init_default_scope('mmseg')
    cfg = Config.fromfile(DALNET_TOY)
    cfg.model.backbone.pretrained = None
    cfg.model.encoders.clip_text.pretrained = None
    cfg.merge_from_dict({f'model.{k}': v for k, v in model_overrides.items()})
    return MODELS.build(cfg.model)


def test_parts_read_the_tokens_they_declare():
    torch.manual_seed(0)
    model = toy_model()
    from mmseg.structures import SegDataSample
    x = torch.randn(2, 3, 112, 112)
    samples = [SegDataSample(metainfo=dict(img_labels=labels, img_shape=(112, 112), pad_shape=(112, 112)))
               for labels in ([1], [2, 4])]
    model.train()
    ctx = model.build_context(x, samples)
    text = ctx.text['class_embeddings']
    # the CAM head's CAMs are relu(cos(projected final patches, class texts)); its classifier reads the raw ones
    h, w = ctx.extras['grid']
    want = F.relu(F.normalize(ctx.extras['patches'], dim=-1) @ text.t()).transpose(1, 2).reshape(2, -1, h, w)
    assert torch.allclose(ctx.cams, want, atol=1e-5)
    assert ctx.feats[0].shape[1] == 128 and ctx.feats[1].shape[1] == 128
    # the object-aware mask: block 1's patch-text CAM at beta, each patch's label over its 8 x 8 pixels
    mask = ctx.pseudo_label('object_mask')
    ref = cam_labels(patch_text_cams(ctx.extras['tokens'][1]['patches_proj'], text, ctx.img_labels), 0.5)
    assert torch.equal(mask[:, ::8, ::8].flatten(1), ref) and mask.shape == (2, 112, 112)
    assert set(mask[0].unique().tolist()) <= {0, 1}  # only image 0's own class
    losses = model.loss(x, samples)
    for term in ('gia', 'lea', 'cc', 'cls'):
        assert torch.isfinite(losses[f'{term}.loss'])


def test_joins_fail_at_build_with_one_line():
    with pytest.raises(ValueError, match=r"pseudo_labels.object_mask \(PatchTextLabels\) reads extras 'tokens.2', "
                                         r'which neither backbone \(OpenCLIPImageEncoder\).*token_blocks'):
        toy_model(**{'pseudo_labels.object_mask.tokens': 2})
    # a sweep over the mask block changes both keys together
    toy_model(**{'pseudo_labels.object_mask.tokens': 0, 'backbone.token_blocks': (0, )})
    model = toy_model(**{'encoders.clip_text.background_prompt': None})
    from mmseg.structures import SegDataSample
    samples = [SegDataSample(metainfo=dict(img_labels=[1], img_shape=(112, 112), pad_shape=(112, 112)))]
    with pytest.raises(ValueError, match='GIALoss needs a background text: set background_prompt'):
        model.loss(torch.randn(1, 3, 112, 112), samples)


def test_aux_cam_head_and_the_mask_from_it():
    """Reconstruction 6's ToCo alternative: an auxiliary classifier on block 1's raw tokens; its CAMs (the map
    'aux.cams') thresholded at beta are the object-aware mask, and its own classification loss trains it."""
    from mmseg.structures import SegDataSample

    from mmseg_wsss.models.losses.multilabel import multilabel_soft_margin_loss
    from mmseg_wsss.utils.cam_ops import max_normalize
    torch.manual_seed(0)
    model = toy_model(**{
        'heads': dict(aux=dict(type='AuxCAMHead', tokens=1, in_channels=128, num_classes=5)),
        'pseudo_labels.object_mask': dict(_delete_=True, type='CAMPseudoLabel', cams='aux.cams', high_thr=0.5,
                                          low_thr=0.5),
        'losses.aux_cls': dict(type='CAMClassificationLoss', head='aux')}).train()
    x = torch.randn(2, 3, 112, 112)
    samples = [SegDataSample(metainfo=dict(img_labels=labels, img_shape=(112, 112), pad_shape=(112, 112)))
               for labels in ([1], [2, 4])]
    ctx = model.build_context(x, samples)
    raw = ctx.extras['tokens'][1]['patches']  # (B, N, C) before the final norm
    h, w = ctx.extras['grid']
    W = model.heads.aux.classifier.weight[:, :, 0, 0]
    out = ctx.head_outputs['aux']
    assert torch.allclose(out['cam_logits'].flatten(2).transpose(1, 2), raw @ W.t(), atol=1e-5)
    assert torch.allclose(out['cls_logits'], raw.amax(1) @ W.t(), atol=1e-5)  # pooled, then classified
    # the mask: ReLU CAMs at the input size, max-normalised, absent classes out, background where <= beta
    cams = max_normalize(F.interpolate(F.relu(out['cam_logits']), size=(112, 112), mode='bilinear',
                                       align_corners=False))
    cams = cams * ctx.img_labels[..., None, None]
    score, arg = cams.max(1)
    want = torch.where(score > 0.5, arg + 1, torch.zeros_like(arg))
    assert torch.equal(ctx.pseudo_label('object_mask'), want)
    losses = model.loss(x, samples)
    assert torch.allclose(losses['aux_cls.loss'], multilabel_soft_margin_loss(out['cls_logits'], ctx.img_labels))
    model.zero_grad()
    losses['lea.loss'].backward()  # the mask carries no gradient: only the aux term trains the aux classifier
    assert model.heads.aux.classifier.weight.grad is None or not model.heads.aux.classifier.weight.grad.any()
    model.zero_grad()
    model.loss(x, samples)['aux_cls.loss'].backward()
    assert model.heads.aux.classifier.weight.grad.abs().sum() > 0


def test_aux_cam_joins_fail_at_build():
    with pytest.raises(ValueError, match=r"heads.aux \(AuxCAMHead\) reads extras 'tokens.0'.*token_blocks"):
        toy_model(**{'heads': dict(aux=dict(type='AuxCAMHead', tokens=0, in_channels=128, num_classes=5))})
    with pytest.raises(Exception, match=r"aux.cams"):
        toy_model(**{'pseudo_labels.object_mask': dict(_delete_=True, type='CAMPseudoLabel', cams='aux.cams')})
    with pytest.raises(KeyError, match=r"reads head 'aux'"):
        toy_model(**{'losses.aux_cls': dict(type='CAMClassificationLoss', head='aux')})


def frozen_mask_model(**overrides):
    enc = dict(type='OpenCLIPImageEncoder', model_name='toy-clip', pretrained=None, quick_gelu=None,
               token_blocks=(1, ), batch_output='tokens')
    return toy_model(**{'encoders.clip_mask': enc, 'pseudo_labels.object_mask.image_encoder': 'clip_mask',
                        **overrides})


def test_mask_from_a_frozen_copy_of_the_tower():
    """PatchTextLabels(image_encoder=...): the mask from a frozen shared copy of the tower (our probe option). From
    equal weights it is the backbone's mask; after the backbone trains it stays the copy's."""
    from mmseg.structures import SegDataSample
    torch.manual_seed(0)
    model = frozen_mask_model()
    copy = model.encoders.clip_mask
    copy.visual.load_state_dict(model.backbone.visual.state_dict())
    model.train()
    assert not copy.training and not any(p.requires_grad for p in copy.parameters())
    x = model.normalize(torch.rand(2, 3, 112, 112))  # images in [0, 1], as the copy sees them
    samples = [SegDataSample(metainfo=dict(img_labels=labels, img_shape=(112, 112), pad_shape=(112, 112)))
               for labels in ([1], [2, 4])]

    def frozen_labels(ctx):
        patches = ctx.encoded('clip_mask')['tokens'][1]['patches_proj']
        return patches, cam_labels(patch_text_cams(patches, ctx.text['class_embeddings'], ctx.img_labels), 0.5)

    ctx = model.build_context(x, samples)
    patches, want = frozen_labels(ctx)
    assert torch.allclose(patches, ctx.extras['tokens'][1]['patches_proj'], atol=1e-4)  # equal weights, same view
    mask = ctx.pseudo_label('object_mask')
    assert torch.equal(mask[:, ::8, ::8].flatten(1), want) and mask.shape == (2, 112, 112)
    with torch.no_grad():  # the backbone moves; the copy does not
        for p in model.backbone.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    ctx = model.build_context(x, samples)
    assert not torch.allclose(patches, ctx.extras['tokens'][1]['patches_proj'], atol=1e-2)
    assert torch.equal(frozen_labels(ctx)[1], want) and torch.equal(ctx.pseudo_label('object_mask'), mask)
    assert not any(k.startswith('encoders.clip_mask.') for k in model.state_dict())  # out of checkpoints
    losses = model.loss(x, samples)
    assert all(torch.isfinite(losses[f'{t}.loss']) for t in ('lea', 'cc'))


def test_frozen_mask_joins_fail_at_build():
    with pytest.raises(KeyError, match=r"pseudo_labels.object_mask \(PatchTextLabels\) reads encoder 'nope'"):
        toy_model(**{'pseudo_labels.object_mask.image_encoder': 'nope'})
    with pytest.raises(ValueError, match=r"object_mask \(PatchTextLabels\) reads \['tokens.1', 'grid'\] of "
                                         r"encoders.clip_mask \(OpenCLIPImageEncoder\), which gives none.*batch_output"):
        frozen_mask_model(**{'encoders.clip_mask.batch_output': 'embedding'})
    with pytest.raises(ValueError, match=r"reads \['tokens.1'\] of encoders.clip_mask.*token_blocks"):
        frozen_mask_model(**{'encoders.clip_mask.token_blocks': (0, )})
