"""CLIMS losses and evaluator against direct transcriptions of the paper's equations and the official code."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmseg_wsss.models.segmentors.wsss_segmentor import is_loss_key
from mmseg_wsss.models.clip import tiny_clip_cfg
from mmseg_wsss.models.clip.prompts import VOC12_CLIP_NAMES
from mmseg_wsss.models.losses import btm_loss, cbs_loss, otm_loss, reg_loss

CFG = tiny_clip_cfg()
NAMES = ['boat', 'train', 'cow']
NAMES_VOC = list(VOC12_CLIP_NAMES)
BG = {'boat': ['river', 'lake'], 'train': ['railroad']}


def dense(s_pairs, b, k, B, K, fill=0.5):
    out = torch.full((B, K), fill, dtype=s_pairs.dtype)
    out[b, k] = s_pairs
    return out


@pytest.mark.parametrize('labels', [[[1, 0, 0], [0, 1, 0]], [[1, 1, 0], [1, 1, 1]]], ids=['one', 'several'])
def test_losses_match_equations(labels):
    torch.manual_seed(0)
    y = torch.tensor(labels, dtype=torch.double)
    B, K = y.shape
    b, k = y.nonzero(as_tuple=True)
    s = torch.rand(len(b), dtype=torch.double, requires_grad=True) * 0.8 + 0.1
    S = dense(s, b, k, B, K)
    # Eq. 6 and Eq. 8, per image, averaged over the batch
    eq6 = (-(y * torch.log(S)).sum(1)).mean()
    eq8 = (-(y * torch.log(1 - S)).sum(1)).mean()
    assert torch.allclose(otm_loss(s, b, B), eq6)
    assert torch.allclose(btm_loss(s, b, B), eq8)
    g1, = torch.autograd.grad(otm_loss(s, b, B), s)
    g2, = torch.autograd.grad(eq6, s)
    assert torch.allclose(g1, g2)
    # Eq. 10: prompts l of class k only
    L = 4
    owner = torch.tensor([0, 0, 1, 2])
    s_ob = torch.rand(len(b), L, dtype=torch.double, requires_grad=True) * 0.5
    mask = (owner[None] == k[:, None]).double()
    eq10 = 0
    for i in range(B):
        for kk in range(K):
            for ll in range(L):
                if y[i, kk] and owner[ll] == kk:
                    pair = ((b == i) & (k == kk)).nonzero()[0, 0]
                    eq10 = eq10 - torch.log(1 - s_ob[pair, ll])
    assert torch.allclose(cbs_loss(s_ob, mask, b, B), eq10 / B)
    g1, = torch.autograd.grad(cbs_loss(s_ob, mask, b, B), s_ob)
    g2, = torch.autograd.grad(eq10 / B, s_ob)
    assert torch.allclose(g1, g2)


def test_reg_and_code_variants():
    P = torch.rand(2, 3, 4, 5)
    eq12 = sum(sum(P[i, kk].sum() / 20 for kk in range(3)) / 3 for i in range(2)) / 2
    assert torch.allclose(reg_loss(P), eq12)
    s = torch.tensor([-0.2, 0.3, 0.99999])
    b = torch.tensor([0, 0, 1])
    assert torch.allclose(otm_loss(s, b, 2, 'code'), -torch.log(s.clamp(1e-4, 1 - 1e-4)).mean())
    assert torch.allclose(btm_loss(s, b, 2, 'code'), -torch.log(1 - s.clamp(1e-4, 1 - 1e-4)).mean())
    s_ob = torch.tensor([[0.1, 0.3], [0.5, 0.2], [0.27, 0.9]])
    mask = torch.tensor([[1., 1.], [1., 0.], [0., 1.]])
    expected = -(torch.log(1 - s_ob) * mask * (s_ob > 0.26)).sum()  # a plain sum over the batch
    assert torch.allclose(cbs_loss(s_ob, mask, b, 2, 'code'), expected)


def build_encoders():
    """The two towers, frozen as the segmentor freezes encoders (its default ``frozen=True``)."""
    encoders = dict(
        clip_image=MODELS.build(dict(type='OpenCLIPImageEncoder', model_name='tiny', pretrained=None, model_cfg=CFG)),
        clip_text=MODELS.build(dict(type='OpenCLIPTextEncoder', model_name='tiny', pretrained=None, model_cfg=CFG,
                                    class_names=NAMES, templates='clims', bg_prompts=BG)))
    return {k: e.requires_grad_(False).eval() for k, e in encoders.items()}


def build_term(**kw):
    return MODELS.build(dict(type='CLIMSLoss', **kw))


class FakeContext:
    """What CLIMSLoss reads from a WSSSContext: images, CAMs, labels and the shared encoders."""

    def __init__(self, encoders, labels, H=24, W=20, seed=0):
        g = torch.Generator().manual_seed(seed)
        B = len(labels)
        self.encoders = encoders
        self.cams = torch.rand(B, 3, 6, 5, generator=g).requires_grad_()
        self.images = torch.rand(B, 3, H, W, generator=g)
        self.img_labels = torch.tensor(labels, dtype=torch.float)
        self.image_mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)  # ImageNet's, as mmseg configs
        self.batch_size = B
        self.text_runs = 0

    def encoder(self, name):
        return self.encoders[name]

    def map(self, name, kinds):
        assert name == 'cams' and 'sigmoid' in kinds  # sigmoid-head CAMs, as CLIMS's default asks for
        return self.cams

    def encoded(self, name):
        self.text_runs += 1
        with torch.no_grad():
            return self.encoders[name]()


def slow_transcription(encoders, ctx, fill='mean'):
    """Eqs. 4-13 image by image, class by class, with one CLIP forward per masked image. The official codes mask
    the normalised image: ((X - m) / s) * P, de-normalised, is m + (X - m) * P (masked pixels = the mean)."""
    m = ctx.image_mean if fill == 'mean' else torch.zeros(1, 3, 1, 1)
    X = ctx.images
    image_encoder = encoders['clip_image']
    P = F.interpolate(ctx.cams, size=X.shape[-2:], mode='bilinear', align_corners=False)
    text = encoders['clip_text']()
    B, K = ctx.img_labels.shape
    otm = btm = cbs = 0
    for i in range(B):
        for kk in range(K):
            if not ctx.img_labels[i, kk]:
                continue
            v_io = image_encoder.encode(m + (X[i:i + 1] - m) * P[i:i + 1, kk:kk + 1])[0]
            v_ib = image_encoder.encode(m + (X[i:i + 1] - m) * (1 - P[i:i + 1, kk:kk + 1]))[0]
            v_to = text['class_embeddings'][kk]
            otm = otm - torch.log(F.cosine_similarity(v_io, v_to, dim=0).clamp_min(1e-6))
            btm = btm - torch.log((1 - F.cosine_similarity(v_ib, v_to, dim=0)).clamp_min(1e-6))
            for ll in (text['bg_owner'] == kk).nonzero()[:, 0]:
                cbs = cbs - torch.log(1 - F.cosine_similarity(v_io, text['bg_embeddings'][ll], dim=0))
    reg = torch.stack([ctx.cams[i, kk].mean() for i in range(B) for kk in range(K)]).mean()
    return dict(loss_otm=10 * otm / B, loss_btm=25 * btm / B, loss_cbs=29.5 * cbs / B, loss_reg=1.15 * reg)


@pytest.mark.parametrize('fill', ['mean', 'black'])
@pytest.mark.parametrize('labels', [[[1, 0, 0], [0, 1, 0]], [[1, 1, 0], [0, 1, 1]]], ids=['one', 'several'])
def test_evaluator_matches_transcription_in_one_forward(labels, fill):
    encoders = build_encoders()
    term = build_term(mask_fill=fill)
    ctx = FakeContext(encoders, labels)
    calls = []
    encoders['clip_image'].visual.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    out = term(ctx)
    n_pairs = int(ctx.img_labels.sum())
    assert calls == [2 * n_pairs]  # every masked image of the batch in one forward
    assert ctx.text_runs == 1
    ref = slow_transcription(encoders, ctx, fill)
    for key in ref:
        assert torch.allclose(out[key], ref[key], atol=1e-4), key
    # gradients reach the CAMs through the frozen tower; CLIP gets none
    sum(v for k_, v in out.items() if k_.startswith('loss')).backward()
    assert ctx.cams.grad.abs().sum() > 0
    assert all(p.grad is None for e in encoders.values() for p in e.parameters())


def test_absent_classes_contribute_nothing_but_to_reg():
    encoders, term = build_encoders(), build_term()
    a = FakeContext(encoders, [[1, 0, 0], [0, 1, 0]])
    b = FakeContext(encoders, [[1, 0, 0], [0, 1, 0]])
    with torch.no_grad():
        b.cams[0, 2] = torch.rand(6, 5)  # class 3 is absent from image 0
        b.cams[1, 0] = 0
    oa, ob = term(a), term(b)
    for key in ('loss_otm', 'loss_btm', 'loss_cbs'):
        assert torch.allclose(oa[key], ob[key]), key
    assert not torch.allclose(oa['loss_reg'], ob['loss_reg'])  # Eq. 12 averages over all K classes
    # cow (class 3) has no background prompts: an image labelled only cow has zero CBS
    assert term(FakeContext(encoders, [[0, 0, 1]]))['loss_cbs'] == 0


def official_code_transcription(s_oo, s_bo, s_ob, thr, hyper=(10, 24, 1, 0.2), cams=None):
    """The official code's (current version) loss lines, pair by pair: OTM / BTM clamp s to [1e-4, 1 - 1e-4] and
    average over the present (image, class) pairs; CBS adds -log(1 - s) for every pair and every prompt of the
    shared list whose s exceeds the threshold, over the whole batch; REG is the mean of the CAM tensor."""
    n = len(s_oo)
    otm = sum(-math.log(min(max(float(v), 1e-4), 1 - 1e-4)) for v in s_oo) / n
    btm = sum(-math.log(1 - min(max(float(v), 1e-4), 1 - 1e-4)) for v in s_bo) / n
    cbs = sum(-math.log(1 - float(v)) for row in s_ob for v in row if v > thr)
    out = dict(loss_otm=hyper[0] * otm, loss_btm=hyper[1] * btm, loss_cbs=hyper[2] * cbs)
    if cams is not None:
        out['loss_reg'] = hyper[3] * cams.mean()
    return out


@pytest.mark.parametrize('thr', [0.26, 0.285, -1.0])
def test_code_variant_equals_official_formulas(thr):
    """The whole term in the official configuration (shared background list, code forms) against the official
    code's formulas applied to the same similarities."""
    encoders = dict(build_encoders(),
                    clip_text=MODELS.build(dict(type='OpenCLIPTextEncoder', model_name='tiny', pretrained=None,
                                                model_cfg=CFG, class_names=NAMES, templates='clims',
                                                bg_prompts=['river', 'lake', 'railroad'])))
    term = build_term(alpha=10.0, beta=24.0, gamma=1.0, delta=0.2, variant='code', cbs_thr=thr)
    ctx = FakeContext(encoders, [[1, 1, 0], [0, 1, 1], [1, 0, 0]])
    assert term.similarities(ctx, ctx.images, ctx.cams)['owner_mask'].all()  # a shared list belongs to every class
    out = term(ctx)
    # the similarities the official code's formulas read, computed here from CLIP on each masked image (one
    # forward per image, mean fill), not taken from the implementation
    m, X = ctx.image_mean, ctx.images
    P = F.interpolate(ctx.cams, size=X.shape[-2:], mode='bilinear', align_corners=False)
    text = encoders['clip_text']()
    s_oo, s_bo, s_ob = [], [], []
    with torch.no_grad():
        for i, k in ctx.img_labels.nonzero().tolist():
            v_io = encoders['clip_image'].encode(m + (X[i:i + 1] - m) * P[i:i + 1, k:k + 1])[0]
            v_ib = encoders['clip_image'].encode(m + (X[i:i + 1] - m) * (1 - P[i:i + 1, k:k + 1]))[0]
            s_oo.append(F.cosine_similarity(v_io, text['class_embeddings'][k], dim=0))
            s_bo.append(F.cosine_similarity(v_ib, text['class_embeddings'][k], dim=0))
            s_ob.append([F.cosine_similarity(v_io, bg, dim=0) for bg in text['bg_embeddings']])
    ref = official_code_transcription(s_oo, s_bo, s_ob, thr, cams=ctx.cams.detach())
    for key in ref:
        assert torch.allclose(out[key], torch.as_tensor(ref[key], dtype=out[key].dtype), atol=1e-5), key


def test_official_prompt_options():
    from mmseg_wsss.models.clip.prompts import CLIMS_CODE_BACKGROUNDS
    torch.manual_seed(0)
    enc = MODELS.build(dict(type='OpenCLIPTextEncoder', model_name='tiny', pretrained=None, model_cfg=CFG,
                            class_names='voc12', templates='clims', bg_prompts='clims_code_voc12',
                            rename=dict(person='player')))
    assert enc.bg_texts == [f'a photo of {w}.' for w in CLIMS_CODE_BACKGROUNDS['voc12']]
    assert (enc.bg_owner == -1).all() and len(CLIMS_CODE_BACKGROUNDS['coco14']) == 88
    torch.manual_seed(0)  # the same random tiny CLIP
    plain = MODELS.build(dict(type='OpenCLIPTextEncoder', model_name='tiny', pretrained=None, model_cfg=CFG,
                              class_names='voc12', templates='clims'))
    person = NAMES_VOC.index('person')
    changed = ~torch.isclose(enc()['class_embeddings'], plain()['class_embeddings']).all(1)
    assert changed.nonzero()[:, 0].tolist() == [person]  # only "person" reads differently ("player")
    with pytest.raises(KeyError, match='rename'):
        MODELS.build(dict(type='OpenCLIPTextEncoder', model_name='tiny', pretrained=None, model_cfg=CFG,
                          class_names=NAMES, rename=dict(person='player')))
    with pytest.raises(KeyError, match='unknown background list'):
        MODELS.build(dict(type='OpenCLIPTextEncoder', model_name='tiny', pretrained=None, model_cfg=CFG,
                          class_names=NAMES, bg_prompts='clims_code_ade'))


def test_sigmoid_head_inference_activation():
    head = MODELS.build(dict(type='SigmoidCAMHead', in_channels=4, num_classes=3))
    out = head(torch.randn(2, 4, 5, 5))
    assert torch.equal(head.cams(out), out['cam_logits'].sigmoid())  # training: sigmoid (Eq. 3)
    # inference, by default as the official code reads CAMs (the paper does not say)
    assert torch.equal(head.inference_cams(out), out['cam_logits'].clamp_min(0))
    sig = MODELS.build(dict(type='SigmoidCAMHead', in_channels=4, num_classes=3, inference_activation='sigmoid'))
    assert torch.equal(sig.inference_cams(out), out['cam_logits'].sigmoid())


def test_code_variant_weights_and_errors():
    term = build_term(alpha=10.0, beta=24.0, gamma=1.0, delta=0.2, variant='code')
    out = term(FakeContext(build_encoders(), [[1, 1, 0]]))
    assert set(k for k in out if k.startswith('loss')) == {'loss_otm', 'loss_btm', 'loss_cbs', 'loss_reg'}
    with pytest.raises(ValueError):
        build_term(variant='blog')
    with pytest.raises(ValueError):
        build_term(mask_fill='white')


def test_cam_network_learns_only_through_the_evaluator():
    from mmengine.config import Config
    from mmseg.structures import SegDataSample

    from tests.conftest import ROOT
    cfg = Config.fromfile(f'{ROOT}/configs/toy/clims_r18-tiny-d8_clip-tiny_1xb8-1k_toy-112x112.py')
    model = MODELS.build(cfg.model).train()
    samples = [SegDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64), img_labels=labels))
               for labels in ([1, 2], [4])]
    text_runs = []
    model.encoders['clip_text'].register_forward_hook(lambda *a: text_runs.append(1))
    losses = model.loss(torch.randn(2, 3, 64, 64), samples)
    assert set(losses) >= {'clims.loss_otm', 'clims.loss_btm', 'clims.loss_cbs', 'clims.loss_reg'}
    assert not any('cls' in k for k in losses)  # Eq. 13 has no classification term
    assert len(text_runs) == 1  # fixed prompts: buffers, read once per batch
    sum(v for k, v in losses.items() if is_loss_key(k)).backward()
    assert model.cam_head.classifier.weight.grad.abs().sum() > 0
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.encoders.parameters())
    assert not model.encoders['clip_image'].visual.training  # frozen teacher stays in eval mode
