"""CLIMS losses and evaluator against direct transcriptions of the paper's equations."""
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmseg_wsss.models.clip import tiny_clip_cfg
from mmseg_wsss.models.losses import btm_loss, cbs_loss, otm_loss, reg_loss

CFG = tiny_clip_cfg()
NAMES = ['boat', 'train', 'cow']
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
    assert torch.allclose(btm_loss(s, b, 2, 'code'), -torch.log(1 - s).mean())
    s_ob = torch.tensor([[0.1, 0.3], [0.5, 0.2], [0.27, 0.9]])
    mask = torch.tensor([[1., 1.], [1., 0.], [0., 1.]])
    expected = -(torch.log(1 - s_ob) * mask * (s_ob > 0.26)).sum() / 2
    assert torch.allclose(cbs_loss(s_ob, mask, b, 2, 'code'), expected)


def build_guide(**kw):
    cfg = dict(type='CLIPEvaluator',
               image_encoder=dict(type='OpenCLIPImageEncoder', model_name='tiny', pretrained=None, model_cfg=CFG),
               text_encoder=dict(type='OpenCLIPTextEncoder', model_name='tiny', pretrained=None, model_cfg=CFG,
                                 class_names=NAMES, templates='clims', bg_prompts=BG))
    cfg.update(kw)
    return MODELS.build(cfg)


def ctx_for(labels, H=24, W=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    B = len(labels)
    cams = torch.rand(B, 3, 6, 5, generator=g).requires_grad_()
    inputs = torch.randn(B, 3, H, W, generator=g)
    return SimpleNamespace(inputs=inputs, cams=cams, img_labels=torch.tensor(labels, dtype=torch.float))


def slow_transcription(guide, ctx):
    """Eqs. 4-13 image by image, class by class, with one CLIP forward per masked image."""
    X = ((ctx.inputs * guide.std + guide.mean) / 255).clamp(0, 1)
    P = F.interpolate(ctx.cams, size=X.shape[-2:], mode='bilinear', align_corners=False)
    text = guide.text_encoder()
    B, K = ctx.img_labels.shape
    otm = btm = cbs = 0
    for i in range(B):
        for kk in range(K):
            if not ctx.img_labels[i, kk]:
                continue
            v_io = guide.image_encoder.encode(X[i:i + 1] * P[i:i + 1, kk:kk + 1])[0]
            v_ib = guide.image_encoder.encode(X[i:i + 1] * (1 - P[i:i + 1, kk:kk + 1]))[0]
            v_to = text['class_embeddings'][kk]
            otm = otm - torch.log(F.cosine_similarity(v_io, v_to, dim=0).clamp_min(1e-6))
            btm = btm - torch.log((1 - F.cosine_similarity(v_ib, v_to, dim=0)).clamp_min(1e-6))
            for ll in (text['bg_owner'] == kk).nonzero()[:, 0]:
                cbs = cbs - torch.log(1 - F.cosine_similarity(v_io, text['bg_embeddings'][ll], dim=0))
    reg = torch.stack([ctx.cams[i, kk].mean() for i in range(B) for kk in range(K)]).mean()
    return dict(loss_otm=10 * otm / B, loss_btm=25 * btm / B, loss_cbs=29.5 * cbs / B, loss_reg=1.15 * reg)


@pytest.mark.parametrize('labels', [[[1, 0, 0], [0, 1, 0]], [[1, 1, 0], [0, 1, 1]]], ids=['one', 'several'])
def test_evaluator_matches_transcription_in_one_forward(labels):
    guide = build_guide()
    ctx = ctx_for(labels)
    calls = []
    guide.image_encoder.visual.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    out = guide(ctx)
    n_pairs = int(ctx.img_labels.sum())
    assert calls == [2 * n_pairs]  # every masked image of the batch in one forward
    ref = slow_transcription(guide, ctx)
    for key in ref:
        assert torch.allclose(out[key], ref[key], atol=1e-4), key
    # gradients reach the CAMs through the frozen tower; CLIP gets none
    sum(v for k_, v in out.items() if k_.startswith('loss')).backward()
    assert ctx.cams.grad.abs().sum() > 0
    assert all(p.grad is None for p in guide.parameters())


def test_absent_classes_contribute_nothing_but_to_reg():
    guide = build_guide()
    a = ctx_for([[1, 0, 0], [0, 1, 0]])
    b = ctx_for([[1, 0, 0], [0, 1, 0]])
    with torch.no_grad():
        b.cams[0, 2] = torch.rand(6, 5)  # class 3 is absent from image 0
        b.cams[1, 0] = 0
    oa, ob = guide(a), guide(b)
    for key in ('loss_otm', 'loss_btm', 'loss_cbs'):
        assert torch.allclose(oa[key], ob[key]), key
    assert not torch.allclose(oa['loss_reg'], ob['loss_reg'])  # Eq. 12 averages over all K classes
    # cow (class 3) has no background prompts: an image labelled only cow has zero CBS
    assert guide(ctx_for([[0, 0, 1]]))['loss_cbs'] == 0


def test_code_variant_weights_and_errors():
    guide = build_guide(alpha=10.0, beta=24.0, gamma=1.0, delta=0.2, variant='code')
    out = guide(ctx_for([[1, 1, 0]]))
    assert set(k for k in out if k.startswith('loss')) == {'loss_otm', 'loss_btm', 'loss_cbs', 'loss_reg'}
    with pytest.raises(ValueError):
        build_guide(variant='blog')


def test_cam_network_learns_only_through_the_evaluator():
    from mmengine.config import Config
    from mmseg.structures import SegDataSample

    from tests.conftest import ROOT
    cfg = Config.fromfile(f'{ROOT}/configs/toy/clims_r18-tiny-d8_clip-tiny_1xb8-1k_toy-112x112.py')
    model = MODELS.build(cfg.model).train()
    samples = []
    for labels in ([1, 2], [4]):
        s = SegDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64), img_labels=labels))
        hot = torch.zeros(6)
        hot[[0] + labels] = 1
        s.gt_img_labels = hot
        samples.append(s)
    losses = model.loss(torch.randn(2, 3, 64, 64), samples)
    assert not any(k == 'loss_cls' for k in losses)  # Eq. 13 has no classification term
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert model.cam_head.classifier.weight.grad.abs().sum() > 0
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.guides[0].parameters())
    assert not model.guides[0].image_encoder.visual.training  # frozen teacher stays in eval mode
