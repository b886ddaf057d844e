"""WeakCLIP: losses against direct transcriptions of Eqs. 12-13 (values and gradients), the CRF boundary loss
against a slow per-pixel implementation, the seed source, the pyramid adapter, co-attention matching (Eqs. 7-9)
and the text-guided neck."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmseg_wsss.models.clip import tiny_clip_cfg
from mmseg_wsss.models.maps import MapRequest
from mmseg_wsss.models.losses import (balanced_seed_loss, boundary_loss, crf_image, crf_refine_batch,
                                      seed_probabilities)
from mmseg_wsss.models.necks.weakclip import CrossAttentionStack, match_scores
from mmseg_wsss.utils.crf import crf_from_probs


def random_probs(B=2, C=4, H=6, W=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, C, H, W, generator=g, dtype=torch.double, requires_grad=True)
    return logits


def random_seeds(B=2, C=4, H=6, W=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    s = torch.randint(0, C, (B, H, W), generator=g)
    s[torch.rand(B, H, W, generator=g) < 0.3] = 255
    return s


def eq12_direct(P, seeds, bg_log=True):
    """WeakCLIP Eq. 12, pixel by pixel, per image, then the batch mean."""
    total = 0.0
    for b in range(P.shape[0]):
        fg_sum, fg_n, bg_sum, bg_n = 0.0, 0, 0.0, 0
        for u in range(P.shape[2]):
            for v in range(P.shape[3]):
                k = int(seeds[b, u, v])
                if k == 255:
                    continue
                if k == 0:
                    bg_sum = bg_sum + (torch.log(P[b, 0, u, v]) if bg_log else P[b, 0, u, v])
                    bg_n += 1
                else:
                    fg_sum = fg_sum + torch.log(P[b, k, u, v])
                    fg_n += 1
        total = total - fg_sum / max(fg_n, 1e-4) - bg_sum / max(bg_n, 1e-4)
    return total / P.shape[0]


@pytest.mark.parametrize('bg_log', [True, False], ids=['log-both', 'paper-literal'])
def test_seed_loss_matches_eq12(bg_log):
    logits = random_probs()
    seeds = random_seeds()
    P = seed_probabilities(logits)
    ours = balanced_seed_loss(P, seeds, bg_log=bg_log)
    ref = eq12_direct(P, seeds, bg_log)
    assert torch.allclose(ours, ref)
    g1, = torch.autograd.grad(ours, logits)
    g2, = torch.autograd.grad(eq12_direct(seed_probabilities(logits), seeds, bg_log), logits)
    assert torch.allclose(g1, g2) and g1.abs().sum() > 0


def test_seed_loss_no_cues_and_probabilities():
    logits = random_probs()
    P = seed_probabilities(logits)
    assert torch.allclose(P.sum(1), torch.ones_like(P[:, 0]))
    assert (P > 0).all()
    none = torch.full((2, 6, 5), 255)
    assert balanced_seed_loss(P, none) == 0  # no cue of either kind adds nothing
    only_bg = torch.zeros(2, 6, 5, dtype=torch.long)
    assert torch.allclose(balanced_seed_loss(P, only_bg), -torch.log(P[:, 0]).flatten(1).mean(1).mean())


def eq13_direct(P, Q, clip=None):
    """WeakCLIP Eq. 13: 1/n sum_u sum_k Q log(Q / P), pixel by pixel over the batch."""
    total, n = 0.0, 0
    for b in range(P.shape[0]):
        for u in range(P.shape[2]):
            for v in range(P.shape[3]):
                for k in range(P.shape[1]):
                    r = Q[b, k, u, v] / P[b, k, u, v]
                    if clip is not None:
                        r = r.clamp(*clip)
                    total = total + Q[b, k, u, v] * torch.log(r)
                n += 1
    return total / n


@pytest.mark.parametrize('clip', [None, (0.05, 20.0)], ids=['paper', 'code-clip'])
def test_boundary_loss_matches_eq13(clip):
    logits = random_probs()
    P = seed_probabilities(logits)
    Q = seed_probabilities(random_probs(seed=5)).detach()
    Q[0, :, 0, 0] = torch.tensor([0.97, 0.01, 0.01, 0.01], dtype=torch.double)  # a ratio outside the clip range
    ours = boundary_loss(P, Q, clip)
    assert torch.allclose(ours, eq13_direct(P, Q, clip))
    g1, = torch.autograd.grad(ours, logits)
    g2, = torch.autograd.grad(eq13_direct(seed_probabilities(logits), Q, clip), logits)
    assert torch.allclose(g1, g2) and g1.abs().sum() > 0
    assert boundary_loss(Q, Q) == 0  # KL of a distribution to itself


def test_crf_boundary_term_against_slow_direct():
    """The term (resize, CRF on detached probabilities, KL) against one image at a time through the CRF function
    and the per-pixel Eq. 13."""
    torch.manual_seed(0)
    images = torch.rand(2, 3, 12, 10)
    logits = torch.randn(2, 3, 12, 10, dtype=torch.double, requires_grad=True)
    P = seed_probabilities(logits)
    Q = crf_refine_batch(images, P)
    assert not Q.requires_grad and torch.allclose(Q.sum(1), torch.ones_like(Q[:, 0]))
    for b in range(2):
        img = (images[b] * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        p = P[b].detach().clamp_min(1e-4)
        p = (p / p.sum(0)).numpy()
        q = torch.from_numpy(crf_from_probs(img, p, pos_sxy=3, pos_compat=3, bi_sxy=80, bi_srgb=13,
                                            bi_compat=10)).double().clamp_min(1e-4)
        q = q / q.sum(0)
        assert torch.allclose(Q[b], q, atol=1e-6)
    assert torch.allclose(boundary_loss(P, Q), eq13_direct(P, Q))


def test_crf_image_resizes():
    """Eq. 13's image at the loss resolution: 'torch' is bilinear + rounding; 'scipy' is the official code's
    ``ndimage.zoom(order=1)`` of the 0-255 image + truncation (a direct transcription), and the two differ."""
    from scipy import ndimage
    torch.manual_seed(0)
    images = torch.rand(2, 3, 32, 24)
    ours = crf_image(images, (8, 6), 'torch')
    ref = (F.interpolate(images, size=(8, 6), mode='bilinear', align_corners=False) * 255).round().to(torch.uint8)
    assert ours.dtype == torch.uint8 and torch.equal(ours, ref)
    official = crf_image(images, (8, 6), 'scipy')
    direct = [ndimage.zoom(images[b].numpy() * 255, (1, 8 / 32, 6 / 24), order=1).astype(np.uint8)
              for b in range(2)]
    assert official.shape == (2, 3, 8, 6) and torch.equal(official, torch.from_numpy(np.stack(direct)))
    assert not torch.equal(official, ours)
    with pytest.raises(ValueError, match='resize'):
        crf_image(images, (8, 6), 'pil')
    with pytest.raises(ValueError, match='image_resize'):
        MODELS.build(dict(type='CRFBoundaryLoss', image_resize='pil'))


class _Ctx:
    """The parts of a WSSSContext the WeakCLIP terms read (``maps``: name -> (kind, tensor))."""

    def __init__(self, seg_logits, images, maps=None):
        self.seg_logits, self.images, self.maps = seg_logits, images, maps or {}

    def map(self, name, kinds):
        kind, value = self.maps[name]
        assert kind in kinds, (name, kind, kinds)
        return value


def test_loss_terms_at_loss_resolution():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 16, 16, requires_grad=True)
    seeds = random_seeds(2, 4, 32, 32)
    ctx = _Ctx(logits, torch.rand(2, 3, 32, 32))
    seed_term = MODELS.build(dict(type='SeedLoss', size=(8, 8)))
    P8 = seed_probabilities(F.interpolate(logits, size=(8, 8), mode='bilinear', align_corners=False))
    s8 = F.interpolate(seeds[:, None].float(), size=(8, 8), mode='nearest')[:, 0].long()
    assert torch.allclose(seed_term(ctx, labels=seeds)['loss'], balanced_seed_loss(P8, s8))
    crf_term = MODELS.build(dict(type='CRFBoundaryLoss', size=(8, 8)))
    out = crf_term(ctx, labels=None)['loss']
    assert torch.isfinite(out) and out >= 0
    out.backward()
    assert logits.grad.abs().sum() > 0
    official = MODELS.build(dict(type='CRFBoundaryLoss', size=(8, 8), image_resize='scipy'))(ctx, labels=None)
    q = crf_refine_batch(crf_image(ctx.images, (8, 8), 'scipy'), seed_probabilities(
        F.interpolate(logits, size=(8, 8), mode='bilinear', align_corners=False)))
    assert torch.allclose(official['loss'], boundary_loss(P8, q))
    with pytest.raises(ValueError, match='labels'):
        seed_term(ctx, labels=None)


@pytest.mark.parametrize('avg_non_ignore', [False, True])
def test_score_map_loss(avg_non_ignore):
    torch.manual_seed(0)
    score = torch.rand(2, 4, 8, 8) * 2 - 1
    seeds = random_seeds(2, 4, 16, 16)
    term = MODELS.build(dict(type='ScoreMapLoss', tau=0.07, avg_non_ignore=avg_non_ignore))
    up = F.interpolate(score / 0.07, size=(16, 16), mode='bilinear', align_corners=False)
    per = F.cross_entropy(up, seeds, ignore_index=255, reduction='none')
    ref = per.sum() / (seeds != 255).sum() if avg_non_ignore else per.sum() / seeds.numel()
    assert torch.allclose(term(_Ctx(None, None, dict(score_map=('cosine_bg', score))), labels=seeds)['loss'], ref)
    assert term.map_requests() == (MapRequest('score_map', ('cosine_bg', ), 'key'), )


class _SeedCtx:

    def __init__(self, samples, img_labels, size=(8, 8)):
        self.data_samples, self.img_labels = samples, img_labels
        self.inputs, self.device = torch.zeros(len(samples), 3, *size), torch.device('cpu')


def test_seed_labels_source():
    seeds = [torch.tensor([[0, 1, 2, 255]] * 4), torch.tensor([[3, 3, 0, 0]] * 3)]  # the second is smaller
    samples = []
    for s in seeds:
        d = SegDataSample()
        d.gt_sem_seg = PixelData(data=s[None])
        samples.append(d)
    img_labels = torch.tensor([[1, 0, 0], [0, 0, 1]], dtype=torch.float)  # image 0 has class 1, image 1 class 3
    ctx = _SeedCtx(samples, img_labels, size=(4, 4))
    out = MODELS.build(dict(type='SeedLabels'))(ctx)
    assert out[0, 0].tolist() == [0, 1, 2, 255] and out[1, 0].tolist() == [3, 3, 0, 0]
    assert (out[1, 3] == 255).all()  # outside the seed map: no cue
    restricted = MODELS.build(dict(type='SeedLabels', restrict_to_labels=True))(ctx)
    assert restricted[0, 0].tolist() == [0, 1, 255, 255]  # class 2 is not among image 0's labels
    assert restricted[1, 0].tolist() == [3, 3, 0, 0]
    with pytest.raises(ValueError, match='pseudo_label_dir'):
        MODELS.build(dict(type='SeedLabels'))(_SeedCtx([SegDataSample()], img_labels[:1]))


def test_pyramid_adapter():
    adapter = MODELS.build(dict(type='CLIPPyramidAdapter', embed_dim=8, norm_cfg=dict(type='BN')))
    # a frozen ViT's token maps: non-contiguous and without gradient (torch 2.12's GroupNorm backward crashed)
    feats = [torch.randn(2, 16, 8).transpose(1, 2).reshape(2, 8, 4, 4) * (i + 1) for i in range(4)]
    assert not feats[0].is_contiguous()
    outs = adapter(feats)
    assert [o.shape[-1] for o in outs] == [16, 8, 4, 2]
    sum(o.sum() for o in outs).backward()
    assert adapter.pre_norms[0].weight.grad is not None
    # the GroupNorms put blocks of different scale on one scale: level 3 (identity) is the normalised input
    assert torch.allclose(outs[2], F.group_norm(feats[2], 1), atol=1e-5)


def test_attention_is_softmax_qk_v():
    """The co-attention's multi-head attention (F.scaled_dot_product_attention) against its transcription."""
    from mmseg_wsss.models.necks.weakclip import _Attention
    torch.manual_seed(0)
    att = _Attention(16, 4, dropout=0.1).eval()
    q, kv = torch.randn(2, 5, 16), torch.randn(2, 7, 16)

    def heads(x):
        return x.reshape(2, -1, 4, 4).transpose(1, 2)

    Q, K, V = heads(att.q_proj(q)), heads(att.k_proj(kv)), heads(att.v_proj(kv))
    ref = att.proj(((Q @ K.transpose(-2, -1) / 2.0).softmax(-1) @ V).transpose(1, 2).reshape(2, 5, 16))
    assert torch.allclose(att(q, kv), ref, atol=1e-6)
    att.train()  # dropout on the attention weights only in training
    assert not torch.allclose(att(q, kv), ref, atol=1e-4)


def _torch_mha(att) -> torch.nn.MultiheadAttention:
    """torch's own multi-head attention holding the weights of our ``_Attention`` (bias-free q / k / v, an output
    projection with bias): an implementation of the attention independent of ours."""
    dim = att.q_proj.weight.shape[0]
    mha = torch.nn.MultiheadAttention(dim, att.num_heads, bias=True, batch_first=True).eval()
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([att.q_proj.weight, att.k_proj.weight, att.v_proj.weight]))
        mha.in_proj_bias.zero_()
        mha.out_proj.weight.copy_(att.proj.weight)
        mha.out_proj.bias.copy_(att.proj.bias)
    return mha


def _reference_layer(layer, x, mem):
    """DenseCLIP's pre-norm decoder layer written out: x + SA(LN1 x); + CA(LN2 x, mem); + MLP(LN3 x) with GELU,
    the attentions by torch.nn.MultiheadAttention and the norms and MLP by torch.nn.functional."""
    def ln(norm, t):
        return F.layer_norm(t, norm.normalized_shape, norm.weight, norm.bias, norm.eps)

    sa, ca = _torch_mha(layer.self_attn), _torch_mha(layer.cross_attn)
    y = ln(layer.norm1, x)
    x = x + sa(y, y, y, need_weights=False)[0]
    x = x + ca(ln(layer.norm2, x), mem, mem, need_weights=False)[0]
    fc1, fc2 = layer.mlp[0], layer.mlp[3]
    return x + F.linear(F.gelu(F.linear(ln(layer.norm3, x), fc1.weight, fc1.bias)), fc2.weight, fc2.bias)


def test_co_attention_layer_against_torch_multihead_attention():
    from mmseg_wsss.models.necks.weakclip import CoAttentionLayer
    torch.manual_seed(0)
    layer = CoAttentionLayer(dim=16, num_heads=4, dropout=0.0).eval()
    x, mem = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    assert torch.allclose(layer(x, mem), _reference_layer(layer, x, mem), atol=1e-5)
    att = layer.cross_attn  # the attention alone, too
    assert torch.allclose(att(x, mem), _torch_mha(att)(x, mem, mem, need_weights=False)[0], atol=1e-5)


def test_cross_attention_stack_chained_and_unchained():
    torch.manual_seed(0)
    stack = CrossAttentionStack(embed_dim=16, width=8, num_layers=3, num_heads=2, dropout=0.0, chained=True).eval()
    q, mem = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    chained = stack(q, mem)
    x = stack.query_proj(q)
    m = stack.memory_proj(mem)
    for layer in stack.layers:  # each layer by the independent reference
        x = _reference_layer(layer, x, m)
    assert torch.allclose(chained, stack.out_proj(x), atol=1e-5)
    stack.chained = False  # the official code: only the last layer counts, fed the projected input
    last_only = stack.out_proj(_reference_layer(stack.layers[-1], stack.query_proj(q), m))
    assert torch.allclose(stack(q, mem), last_only, atol=1e-5)
    assert not torch.allclose(chained, last_only)


def test_co_attention_matcher_eqs_7_to_9():
    torch.manual_seed(0)
    matcher = MODELS.build(dict(type='CoAttentionMatcher', embed_dim=16, width=8, num_heads=2, dropout=0.0)).eval()
    assert torch.allclose(matcher.alpha, torch.full((16, ), 0.1)) and matcher.alpha.requires_grad
    text, glob, patches = torch.randn(3, 16), torch.randn(2, 16), torch.randn(2, 12, 16)
    out = matcher(text, glob, patches, (3, 4))
    assert out['score_map'].shape == (2, 3, 3, 4)
    # Eq. 7 / 8 transcribed
    t = text[None].expand(2, -1, -1)
    vis = torch.cat([glob[:, None], patches], 1)
    t_star = matcher.text_to_pixel(t, vis) * matcher.alpha + t
    f_star = (matcher.pixel_to_text(vis, t) * matcher.beta + vis)[:, 1:]
    assert torch.allclose(out['text'], t_star, atol=1e-6) and torch.allclose(out['patches'], f_star, atol=1e-6)
    # Eq. 9: cosine similarity, patch (i, j) -> row-major index i * 4 + j
    cos = F.cosine_similarity(f_star[1, 4 * 2 + 1], t_star[1, 2], dim=0)
    assert torch.allclose(out['score_map'][1, 2, 2, 1], cos, atol=1e-6)
    assert torch.allclose(match_scores(t_star, f_star, (3, 4)), out['score_map'])
    # with zero scales the matcher is CLIP's own dense matching
    with torch.no_grad():
        matcher.alpha.zero_()
        matcher.beta.zero_()
    plain = matcher(text, glob, patches, (3, 4))['score_map']
    assert torch.allclose(plain, match_scores(t, patches, (3, 4)), atol=1e-6)


def test_co_attention_shared_projections_official_layout():
    """``shared_proj=True`` (official code): one text projection (LN-Linear) and one visual projection
    (LN-Linear-LN) for both directions; pixel-to-text queries the visual side through the visual projection."""
    torch.manual_seed(0)
    cfg = dict(type='CoAttentionMatcher', embed_dim=16, width=8, num_heads=2, dropout=0.0)
    own, shared = MODELS.build(cfg).eval(), MODELS.build(dict(cfg, shared_proj=True)).eval()
    n_own, n_shared = (sum(p.numel() for p in m.parameters()) for m in (own, shared))
    proj = sum(p.numel() for p in own.pixel_to_text.query_proj.parameters()) + sum(
        p.numel() for p in own.pixel_to_text.memory_proj.parameters())
    assert n_own - n_shared == proj  # the second direction's projections are gone
    text, glob, patches = torch.randn(3, 16), torch.randn(2, 16), torch.randn(2, 12, 16)
    out = shared(text, glob, patches, (3, 4))
    vis = torch.cat([glob[:, None], patches], 1)
    t = text[None].expand(2, -1, -1)
    t2p, p2t = shared.text_to_pixel, shared.pixel_to_text
    x, mem = t2p.memory_proj(vis), t2p.query_proj(t)  # transcription of the official anti-decoder direction
    for layer in p2t.layers:
        x = layer(x, mem)
    f_star = (p2t.out_proj(x) * shared.beta + vis)[:, 1:]
    assert torch.allclose(out['patches'], f_star, atol=1e-6)
    out['score_map'].sum().backward()
    assert t2p.query_proj[1].weight.grad.abs().sum() > 0 and t2p.memory_proj[1].weight.grad.abs().sum() > 0


def test_text_guided_neck_gives_levels_and_score_map():
    torch.manual_seed(0)
    K, C, D = 3, 8, 16
    neck = MODELS.build(dict(
        type='TextGuidedNeck',
        adapter=dict(type='CLIPPyramidAdapter', embed_dim=C, norm_cfg=dict(type='BN')),
        matcher=dict(type='CoAttentionMatcher', embed_dim=D, width=8, num_heads=2),
        fpn=dict(type='FPN', in_channels=[C + K] * 4, out_channels=8, num_outs=4)))
    feats = [torch.randn(2, C, 4, 4) for _ in range(4)]
    extras = dict(cls=torch.randn(2, D), patches=torch.randn(2, 16, D), grid=(4, 4))
    outs, more = neck([feats, dict(class_embeddings=torch.randn(K, D))], extras)
    assert [o.shape[-1] for o in outs] == [16, 8, 4, 2] and all(o.shape[1] == 8 for o in outs)
    assert more['score_map'].shape == (2, K, 4, 4)
    with pytest.raises(ValueError, match='OpenCLIPImageEncoder'):
        neck([feats, dict(class_embeddings=torch.randn(K, D))], {})
    # Eq. 10's concatenation, by value: what the FPN receives is each pyramid level, then the K score channels
    # resized to it (bilinear, align_corners=True: the corners are the score map's own corner values)
    seen = []
    neck.fpn.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    neck.eval()
    with torch.no_grad():
        _, more = neck([feats, dict(class_embeddings=torch.randn(K, D))], extras)
        pyramid = neck.adapter(list(feats))
    score = more['score_map']
    for level, p in zip(seen[0], pyramid):
        assert level.shape[1] == C + K and torch.equal(level[:, :C], p)
        up = level[:, C:]
        assert up.shape[-2:] == p.shape[-2:]
        for (y, x), (sy, sx) in (((0, 0), (0, 0)), ((-1, -1), (-1, -1)), ((0, -1), (0, -1))):
            assert torch.allclose(up[:, :, y, x], score[:, :, sy, sx], atol=1e-6)
    assert torch.allclose(seen[0][2][:, C:], score, atol=1e-6)  # the level at the score map's own size


def test_text_encoder_weakclip_options():
    cfg = tiny_clip_cfg()
    enc = MODELS.build(dict(type='OpenCLIPTextEncoder', model_name='tiny', pretrained=None, model_cfg=cfg,
                            class_names='voc12_bg', n_ctx=4, ctx_std=1.0, ctx_suffix='', normalize=False))
    assert enc.class_names[0] == 'background' and len(enc.class_names) == 21
    emb = enc()['class_embeddings']
    assert emb.shape == (21, cfg['embed_dim']) and not torch.allclose(emb.norm(dim=-1), torch.ones(21))
    assert emb.requires_grad  # through the context vectors
    assert 0.5 < enc.ctx.std() < 1.5  # the code's std-1 initialisation
    fixed = MODELS.build(dict(type='OpenCLIPTextEncoder', model_name='tiny', pretrained=None, model_cfg=cfg,
                              class_names='coco14_bg', normalize=False))
    raw = fixed()['class_embeddings']
    assert raw.shape[0] == 81 and torch.allclose(F.normalize(raw, dim=-1), fixed.fixed_class_embeddings, atol=1e-5)


def test_image_encoder_repeated_out_indices_and_bilinear_pos():
    cfg = tiny_clip_cfg(layers=3)
    enc = MODELS.build(dict(type='OpenCLIPImageEncoder', model_name='tiny', pretrained=None, model_cfg=cfg,
                            out_indices=(0, 1, 2, 2), pos_interp='bilinear'))
    maps, extras = enc.forward_with_extras(torch.randn(1, 3, 48, 48))
    assert len(maps) == 4 and torch.equal(maps[2], maps[3]) and not torch.equal(maps[0], maps[1])
    assert extras['grid'] == (6, 6) and extras['patches'].shape == (1, 36, cfg['embed_dim'])
    with pytest.raises(ValueError, match='pos_interp'):
        MODELS.build(dict(type='OpenCLIPImageEncoder', model_name='tiny', pretrained=None, model_cfg=cfg,
                          pos_interp='nearest'))
    assert torch.isfinite(maps[0]).all()
