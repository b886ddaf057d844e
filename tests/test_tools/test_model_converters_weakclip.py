"""tools/model_converters/weakclip2mmseg.py: WeakCLIP's released network (hustvl/WeakCLIP) -> the official-layout
config. The key list of the official VOC model (tests/fixtures/official_keys/weakclip_voc.json, generated once from
the official classes: names and shapes only) is what :func:`official_shapes` must give at the official sizes; at
small widths, random tensors of that layout go through the converter, load strict=True into the official-layout
config, and the decoder's logits equal those of a transcription of the official forward."""
import argparse
import hashlib
import json
import math
import os.path as osp

import open_clip
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmseg.registry import MODELS

from tests.conftest import ROOT, load_tool, run_tool
from tests.test_tools.test_model_converters import random_tensor

OFFICIAL_KEYS = json.load(open(osp.join(ROOT, 'tests/fixtures/official_keys/weakclip_voc.json')))['keys']
OFFICIAL_CFG = 'configs/weakclip/weakclip-official_vit-b16_8xb2-20k_voc12aug-512x512.py'
OFFICIAL_COCO_CFG = 'configs/weakclip/weakclip-official_vit-b16_4xb6-40k_coco14-512x512.py'
VOC_NAMES = ['background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
             'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train',
             'tvmonitor']
FULL = dict(vw=768, vlayers=12, patch=16, res=512, tw=512, tlayers=12, vocab=49408, ctx_len=13, n_ctx=8, joint=512,
            dw=256, dlayers=3, classes=21, fpn=256)
SMALL = dict(vw=32, vlayers=12, patch=16, res=64, tw=32, tlayers=2, vocab=49408, ctx_len=13, n_ctx=8, joint=16,
             dw=16, dlayers=3, classes=21, fpn=16)


def official_shapes(vw, vlayers, patch, res, tw, tlayers, vocab, ctx_len, n_ctx, joint, dw, dlayers, classes, fpn):
    """The official WeakCLIP state dict's names and shapes (DenseCLIP-style towers, the decoupled context decoder,
    mmseg's FPN and FPNHead) for the given sizes."""
    s = {}

    def block(prefix, w):
        s.update({prefix + 'attn.in_proj_weight': [3 * w, w], prefix + 'attn.in_proj_bias': [3 * w],
                  prefix + 'attn.out_proj.weight': [w, w], prefix + 'attn.out_proj.bias': [w],
                  prefix + 'ln_1.weight': [w], prefix + 'ln_1.bias': [w], prefix + 'mlp.c_fc.weight': [4 * w, w],
                  prefix + 'mlp.c_fc.bias': [4 * w], prefix + 'mlp.c_proj.weight': [w, 4 * w],
                  prefix + 'mlp.c_proj.bias': [w], prefix + 'ln_2.weight': [w], prefix + 'ln_2.bias': [w]})

    def ln(prefix, w):
        s.update({prefix + 'weight': [w], prefix + 'bias': [w]})

    def bn(prefix, w):
        s.update({prefix + n: [w] for n in ('weight', 'bias', 'running_mean', 'running_var')})
        s[prefix + 'num_batches_tracked'] = []

    s['contexts'], s['gamma'], s['beta'] = [1, n_ctx, tw], [joint], [joint]
    s['backbone.class_embedding'] = [vw]
    s['backbone.positional_embedding'] = [(res // patch) ** 2 + 1, vw]
    s['backbone.conv1.weight'] = [vw, 3, patch, patch]
    ln('backbone.ln_pre.', vw)
    for i in range(vlayers):
        block(f'backbone.transformer.resblocks.{i}.', vw)
    ln('backbone.ln_post.', vw)
    s['backbone.proj'] = [vw, joint]
    ln('backbone.fpn1.0.', vw)
    s.update({'backbone.fpn1.1.weight': [vw, vw, 2, 2], 'backbone.fpn1.1.bias': [vw]})
    bn('backbone.fpn1.2.', vw)
    s.update({'backbone.fpn1.4.weight': [vw, vw, 2, 2], 'backbone.fpn1.4.bias': [vw]})
    ln('backbone.fpn2.0.', vw)
    s.update({'backbone.fpn2.1.weight': [vw, vw, 2, 2], 'backbone.fpn2.1.bias': [vw]})
    ln('backbone.fpn3.', vw)
    ln('backbone.fpn4.0.', vw)
    s['text_encoder.positional_embedding'] = [ctx_len, tw]
    s['text_encoder.text_projection'] = [tw, joint]
    for i in range(tlayers):
        block(f'text_encoder.transformer.resblocks.{i}.', tw)
    s['text_encoder.token_embedding.weight'] = [vocab, tw]
    ln('text_encoder.ln_final.', tw)
    p = 'context_decoder.'
    ln(p + 'memory_proj.0.', joint)
    s.update({p + 'memory_proj.1.weight': [dw, joint], p + 'memory_proj.1.bias': [dw]})
    ln(p + 'memory_proj.2.', dw)
    ln(p + 'text_proj.0.', joint)
    s.update({p + 'text_proj.1.weight': [dw, joint], p + 'text_proj.1.bias': [dw]})
    for stack in ('decoder', 'anti_decoder'):
        for i in range(dlayers):
            q = f'{p}{stack}.{i}.'
            for attn in ('self_attn', 'cross_attn'):
                s.update({f'{q}{attn}.{n}_proj.weight': [dw, dw] for n in 'qkv'})
                s.update({f'{q}{attn}.proj.weight': [dw, dw], f'{q}{attn}.proj.bias': [dw]})
            for n in (1, 2, 3):
                ln(f'{q}norm{n}.', dw)
            s.update({q + 'mlp.0.weight': [4 * dw, dw], q + 'mlp.0.bias': [4 * dw], q + 'mlp.3.weight': [dw, 4 * dw],
                      q + 'mlp.3.bias': [dw]})
    for out in ('out_proj', 'anti_out_proj'):
        ln(f'{p}{out}.0.', dw)
        s.update({f'{p}{out}.1.weight': [joint, dw], f'{p}{out}.1.bias': [joint]})
    for i in range(4):
        s.update({f'neck.lateral_convs.{i}.conv.weight': [fpn, vw + classes, 1, 1],
                  f'neck.lateral_convs.{i}.conv.bias': [fpn]})
    for i in range(4):
        s.update({f'neck.fpn_convs.{i}.conv.weight': [fpn, fpn, 3, 3], f'neck.fpn_convs.{i}.conv.bias': [fpn]})
    s.update({'decode_head.conv_seg.weight': [classes, fpn, 1, 1], 'decode_head.conv_seg.bias': [classes]})
    for i in range(4):
        for j in range(max(1, i)):
            s[f'decode_head.scale_heads.{i}.{2 * j}.conv.weight'] = [fpn, fpn, 3, 3]
            bn(f'decode_head.scale_heads.{i}.{2 * j}.bn.', fpn)
    return s


def random_official(shapes: dict, seed: int = 0) -> dict:
    """Random tensors of the official layout (``random_tensor``'s rules) with WeakCLIP's own: the co-attention
    scales near their 0.1 start, embeddings and projections scaled for a 12-block tower."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in shapes.items():
        if key in ('gamma', 'beta'):
            out[key] = 0.1 + 0.05 * torch.randn(shape, generator=g)
        elif key.endswith(('class_embedding', 'positional_embedding')):
            out[key] = 0.1 * torch.randn(shape, generator=g)
        elif key in ('backbone.proj', 'text_encoder.text_projection'):
            out[key] = torch.randn(shape, generator=g) / math.sqrt(shape[0])
        elif key == 'contexts' or key.endswith('token_embedding.weight'):
            out[key] = 0.5 * torch.randn(shape, generator=g)
        else:
            out[key] = random_tensor(key, shape, g)
    return out


def test_official_shapes_are_the_fixture():
    """The layout the small-width tests use is, at the official sizes, exactly the official model's."""
    assert official_shapes(**FULL) == OFFICIAL_KEYS


def small_config(path: str = OFFICIAL_CFG, classes: int = 21):
    cfg = Config.fromfile(osp.join(ROOT, path))
    small = dict(embed_dim=SMALL['joint'],
                 vision_cfg=dict(image_size=SMALL['res'], layers=SMALL['vlayers'], width=SMALL['vw'],
                                 patch_size=SMALL['patch'], head_width=16),
                 text_cfg=dict(context_length=SMALL['ctx_len'], vocab_size=SMALL['vocab'], width=SMALL['tw'],
                               heads=2, layers=SMALL['tlayers']))
    m = cfg.model
    m.backbone.model_cfg = small
    m.encoders.text.model_cfg = small
    m.neck.adapter.embed_dim = SMALL['vw']
    m.neck.matcher.update(embed_dim=SMALL['joint'], width=SMALL['dw'], num_heads=2)
    m.neck.fpn.update(in_channels=[SMALL['vw'] + classes] * 4, out_channels=SMALL['fpn'])
    m.decode_head.update(in_channels=[SMALL['fpn']] * 4, channels=SMALL['fpn'])
    return cfg


# ---------------------------------------------------------------- the official forward, transcribed
def _ln(x, sd, p):
    return F.layer_norm(x, x.shape[-1:], sd[p + 'weight'], sd[p + 'bias'], 1e-5)


def _clip_block(x, sd, p, heads, causal=False):
    """OpenAI CLIP's residual block (nn.MultiheadAttention's in_proj / out_proj, QuickGELU MLP) on (B, N, C)."""
    B, N, C = x.shape
    y = _ln(x, sd, p + 'ln_1.')
    q, k, v = F.linear(y, sd[p + 'attn.in_proj_weight'], sd[p + 'attn.in_proj_bias']).chunk(3, dim=-1)
    q, k, v = (t.reshape(B, N, heads, C // heads).transpose(1, 2) for t in (q, k, v))
    a = q @ k.transpose(-1, -2) / math.sqrt(C // heads)
    if causal:
        a = a + torch.full((N, N), float('-inf')).triu(1)
    o = (a.softmax(-1) @ v).transpose(1, 2).reshape(B, N, C)
    x = x + F.linear(o, sd[p + 'attn.out_proj.weight'], sd[p + 'attn.out_proj.bias'])
    h = F.linear(_ln(x, sd, p + 'ln_2.'), sd[p + 'mlp.c_fc.weight'], sd[p + 'mlp.c_fc.bias'])
    h = h * torch.sigmoid(1.702 * h)
    return x + F.linear(h, sd[p + 'mlp.c_proj.weight'], sd[p + 'mlp.c_proj.bias'])


def _official_vision(sd, img, heads, out_indices=(3, 5, 7, 11)):
    """CLIPVisionTransformer.forward (get_embeddings, the fpn1-4 adapter), read from the official models.py: the
    class token gets ``class_embedding`` plus position 0 plus ``class_embedding`` again; the position grid is
    resized bilinearly to the input's; the block outputs of out_indices through fpn1-4; every token through
    ln_post and proj."""
    p = 'backbone.'
    x = F.conv2d(img, sd[p + 'conv1.weight'], stride=sd[p + 'conv1.weight'].shape[-1])
    B, C, H, W = x.shape
    x = x.reshape(B, C, H * W).permute(0, 2, 1)
    cls_emb = sd[p + 'class_embedding']
    x = torch.cat([cls_emb + torch.zeros(B, 1, C), x], dim=1)
    pos = sd[p + 'positional_embedding']
    s = int(math.isqrt(pos.shape[0] - 1))
    spatial = F.interpolate(pos[1:].reshape(1, s, s, C).permute(0, 3, 1, 2), size=(H, W), mode='bilinear')
    x = x + torch.cat([(pos[0] + cls_emb).reshape(1, 1, C), spatial.reshape(1, C, H * W).permute(0, 2, 1)], dim=1)
    x = _ln(x, sd, p + 'ln_pre.')
    feats = []
    i = 0
    while p + f'transformer.resblocks.{i}.ln_1.weight' in sd:
        x = _clip_block(x, sd, f'{p}transformer.resblocks.{i}.', heads)
        if i in out_indices:
            feats.append(x[:, 1:].permute(0, 2, 1).reshape(B, C, H, W))
        i += 1

    def gn(t, q):
        return F.group_norm(t, 1, sd[q + 'weight'], sd[q + 'bias'], 1e-5)

    def up(t, q):
        return F.conv_transpose2d(t, sd[q + 'weight'], sd[q + 'bias'], stride=2)

    b = p + 'fpn1.2.'
    f1 = up(F.gelu(F.batch_norm(up(gn(feats[0], p + 'fpn1.0.'), p + 'fpn1.1.'), sd[b + 'running_mean'],
                                sd[b + 'running_var'], sd[b + 'weight'], sd[b + 'bias'], False, 0.0, 1e-5)),
            p + 'fpn1.4.')
    f2 = up(gn(feats[1], p + 'fpn2.0.'), p + 'fpn2.1.')
    f3 = gn(feats[2], p + 'fpn3.')
    f4 = F.max_pool2d(gn(feats[3], p + 'fpn4.0.'), 2, 2)
    x = _ln(x, sd, p + 'ln_post.') @ sd[p + 'proj']
    return [f1, f2, f3, f4], x[:, 0], x[:, 1:], (H, W)


def _official_text(sd, texts, heads):
    """CLIPTextContextEncoder.forward with the contexts: the 8 context vectors inserted after the start token of
    each class's 5-token text, the causal tower, the end token (its index in the text + 8) through the
    projection."""
    p = 'text_encoder.'
    ctx = sd['contexts']
    x = sd[p + 'token_embedding.weight'][texts]
    K = x.shape[0]
    x = torch.cat([x[:, :1], ctx.expand(K, -1, -1), x[:, 1:]], dim=1) + sd[p + 'positional_embedding']
    for i in range(sum(k.startswith(p + 'transformer.resblocks.') and k.endswith('ln_1.weight') for k in sd)):
        x = _clip_block(x, sd, f'{p}transformer.resblocks.{i}.', heads, causal=True)
    x = _ln(x, sd, p + 'ln_final.')
    return x[torch.arange(K), texts.argmax(-1) + ctx.shape[1]] @ sd[p + 'text_projection']


def _decoder_attention(q, kv, sd, p, heads):
    B, N, C = q.shape
    M = kv.shape[1]
    q = F.linear(q, sd[p + 'q_proj.weight']).reshape(B, N, heads, C // heads)
    k = F.linear(kv, sd[p + 'k_proj.weight']).reshape(B, M, heads, C // heads)
    v = F.linear(kv, sd[p + 'v_proj.weight']).reshape(B, M, heads, C // heads)
    a = (torch.einsum('bnkc,bmkc->bknm', q, k) * (C // heads) ** -0.5).softmax(-1)
    return F.linear(torch.einsum('bknm,bmkc->bnkc', a, v).reshape(B, N, C), sd[p + 'proj.weight'], sd[p + 'proj.bias'])


def _decoder_layer(x, mem, sd, p, heads):
    y = _ln(x, sd, p + 'norm1.')
    x = x + _decoder_attention(y, y, sd, p + 'self_attn.', heads)
    x = x + _decoder_attention(_ln(x, sd, p + 'norm2.'), mem, sd, p + 'cross_attn.', heads)
    h = F.gelu(F.linear(_ln(x, sd, p + 'norm3.'), sd[p + 'mlp.0.weight'], sd[p + 'mlp.0.bias']))
    return x + F.linear(h, sd[p + 'mlp.3.weight'], sd[p + 'mlp.3.bias'])


def _official_context_decoder(sd, text, visual, heads):
    """ContextDecoder.forward (if_decouple): ONE memory projection (LN-Linear-LN) for the visual tokens and ONE
    text projection (LN-Linear); every layer of ``decoder`` reads the projected text (the last one's output
    counts), every layer of ``anti_decoder`` the projected visual tokens against the projected text."""
    p = 'context_decoder.'

    def seq(x, q, n):
        for i in range(n):
            x = _ln(x, sd, f'{q}{i}.') if f'{q}{i}.weight' in sd and sd[f'{q}{i}.weight'].dim() == 1 else \
                F.linear(x, sd[f'{q}{i}.weight'], sd[f'{q}{i}.bias'])
        return x

    mem = seq(visual, p + 'memory_proj.', 3)
    txt = seq(text, p + 'text_proj.', 2)
    n = sum(k.startswith(p + 'decoder.') and k.endswith('norm1.weight') for k in sd)
    for i in range(n):
        text_diff = _decoder_layer(txt, mem, sd, f'{p}decoder.{i}.', heads)
    for i in range(n):
        visual_diff = _decoder_layer(mem, txt, sd, f'{p}anti_decoder.{i}.', heads)
    return seq(text_diff, p + 'out_proj.', 2), seq(visual_diff, p + 'anti_out_proj.', 2)


def official_weakclip_logits(sd, img, texts, vheads, theads, dheads, classes):
    """WeakCLIP.encode_decode before the final resize (``after_extract_feat`` with if_decouple and
    if_pyramid_queried_feature, then mmseg's FPN and FPNHead, which FPNHeadDGCN is at inference)."""
    from mmseg.models.decode_heads import FPNHead
    from mmseg.models.necks import FPN
    feats, glob, patches, (H, W) = _official_vision(sd, img, vheads)
    B = img.shape[0]
    text = _official_text(sd, texts, theads)[None].expand(B, -1, -1)
    visual = torch.cat([glob[:, None], patches], dim=1)
    text_diff, visual_diff = _official_context_decoder(sd, text, visual, dheads)
    visual = visual + sd['beta'] * visual_diff
    text = text + sd['gamma'] * text_diff
    v = F.normalize(visual[:, 1:].permute(0, 2, 1).reshape(B, -1, H, W), dim=1)
    score = torch.einsum('bchw,bkc->bkhw', v, F.normalize(text, dim=2))
    levels = [torch.cat([f, F.interpolate(score, size=f.shape[2:], mode='bilinear', align_corners=True)], dim=1)
              for f in feats]
    fpn_ch = sd['neck.fpn_convs.0.conv.weight'].shape[0]
    neck = FPN(in_channels=[levels[0].shape[1]] * 4, out_channels=fpn_ch, num_outs=4).eval()
    neck.load_state_dict({k[5:]: v for k, v in sd.items() if k.startswith('neck.')}, strict=True)
    head = FPNHead(in_channels=[fpn_ch] * 4, in_index=[0, 1, 2, 3], feature_strides=[4, 8, 16, 32], channels=fpn_ch,
                   num_classes=classes, norm_cfg=dict(type='BN'), dropout_ratio=0.1).eval()
    head.load_state_dict({k[12:]: v for k, v in sd.items() if k.startswith('decode_head.')}, strict=True)
    return head(neck(levels))


# ---------------------------------------------------------------- tests
def test_converted_weakclip_matches_the_official_forward():
    """Small widths, random weights of the official layout: the converted official-layout config's decoder
    logits equal the transcribed official forward's (at the training grid and at another input size, where both
    resize the position grid bilinearly); the paper-default options (chained layers, separate projections) or
    OpenAI's class embedding counted once do not."""
    tool = load_tool('tools/model_converters/weakclip2mmseg.py')
    state = random_official(official_shapes(**SMALL), seed=5)
    converted = tool.convert_weakclip(state)
    cfg = small_config()
    model = MODELS.build(cfg.model).eval()
    model.load_state_dict(converted, strict=True)
    texts = open_clip.tokenize(VOC_NAMES, context_length=5)  # the official code tokenises each name to 5 tokens
    g = torch.Generator().manual_seed(6)
    for size in ((64, 64), (80, 96)):
        img = torch.randn(2, 3, *size, generator=g)
        with torch.no_grad():
            want = official_weakclip_logits(state, img, texts, vheads=2, theads=2, dheads=2, classes=21)
            got = model._forward(img)
        assert got.shape == want.shape == (2, 21, size[0] // 4, size[1] // 4)
        assert want.abs().max() > 0.1 and torch.allclose(got, want, atol=2e-5, rtol=1e-4), (got - want).abs().max()
    # the double class embedding matters: counted once, the logits move
    once = dict(converted)
    once['backbone.visual.positional_embedding'] = state['backbone.positional_embedding']
    model.load_state_dict(once, strict=True)
    with torch.no_grad():
        assert not torch.allclose(model._forward(img), want, atol=1e-3)
    # so do the official co-attention options
    for option in (dict(chained=True), dict(shared_proj=False)):
        cfg = small_config()
        cfg.model.neck.matcher.update(option)
        other = MODELS.build(cfg.model).eval()
        other.load_state_dict(converted, strict=False)
        with torch.no_grad():
            assert not torch.allclose(other._forward(img), want, atol=1e-3), option


def test_weakclip_official_file_converts_and_loads_strict(tmp_path):
    """The official VOC layout at full size, saved as the mmcv runner checkpoint it is ({meta, state_dict,
    optimizer}), converts with --trust-pickle and loads strict=True into the official-layout config; every key
    is mapped and the meta names the source."""
    state = random_official(OFFICIAL_KEYS, seed=1)
    src, dst = tmp_path / 'voc_weakclip.pth', tmp_path / 'weakclip_voc_mmseg.pth'

    # a runner's meta may hold objects that weights_only refuses: an argparse.Namespace stands for them
    torch.save(dict(meta=dict(CLASSES=tuple(VOC_NAMES), args=argparse.Namespace(seed=0)), state_dict=state,
                    optimizer={}), src)
    res = run_tool('tools/model_converters/weakclip2mmseg.py', str(src), str(dst), check=False)
    assert res.returncode != 0 and 'rerun with --trust-pickle' in res.stderr
    res = run_tool('tools/model_converters/weakclip2mmseg.py', '--trust-pickle', str(src), str(dst))
    n = len(state)
    # + the two shared projections registered again under pixel_to_text (10 tensors) + open_clip's logit_scale
    assert f'{n} keys -> {n + 10 + 1} tensors, 20 classes' in res.stdout
    ckpt = torch.load(dst, map_location='cpu', weights_only=False)
    cfg = Config.fromfile(osp.join(ROOT, OFFICIAL_CFG))
    model = MODELS.build(cfg.model)
    model.load_state_dict(ckpt['state_dict'], strict=True)
    assert torch.equal(model.neck.matcher.alpha, state['gamma'])
    assert torch.equal(model.encoders.text.ctx, state['contexts'][0])
    assert torch.equal(model.neck.adapter.upsample_4x[3].weight, state['backbone.fpn1.4.weight'])
    assert model.neck.matcher.pixel_to_text.query_proj is model.neck.matcher.text_to_pixel.memory_proj
    assert torch.equal(model.backbone.visual.positional_embedding[0],
                       state['backbone.positional_embedding'][0] + state['backbone.class_embedding'])
    meta = ckpt['meta']
    assert meta['converted_from'] == src.name and meta['sha256'] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert meta['converter'] == 'weakclip2mmseg' and meta['dataset_meta']['classes'][0] == 'background'
    assert len(meta['dataset_meta']['classes']) == 21


def test_weakclip_converter_refuses_what_is_not_the_layout():
    tool = load_tool('tools/model_converters/weakclip2mmseg.py')
    state = random_official(official_shapes(**SMALL))
    bad = dict(state, **{'context_decoder.extra.weight': torch.zeros(1)})
    with pytest.raises(ValueError, match="unexpected key 'context_decoder.extra.weight'"):
        tool.convert_weakclip(bad)
    coupled = {k: v for k, v in state.items() if k != 'beta'}  # if_decouple=False: no pixel-to-text update
    with pytest.raises(ValueError, match='no neck.matcher.beta after conversion'):
        tool.convert_weakclip(coupled)


def test_coco_official_network_keeps_the_trained_channels(tmp_path):
    """COCO's 91-slot network converts into the official COCO config: all 91 slots run (their score map feeds the
    FPN), prediction keeps channels 0-80 (whole and slide inference), the meta names COCO's 81 classes, and the
    model refuses to train."""
    tool = load_tool('tools/model_converters/weakclip2mmseg.py')
    state = random_official(official_shapes(**dict(SMALL, classes=91)), seed=7)
    converted = tool.convert_weakclip(state)
    assert len(tool.dataset_meta_for(converted)['classes']) == 81
    cfg = small_config(OFFICIAL_COCO_CFG, classes=91)
    model = MODELS.build(cfg.model).eval()
    model.load_state_dict(converted, strict=True)
    assert len(model.encoders.text.class_names) == 91 and model.out_channels == 81
    img = torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(8))
    meta = [dict(ori_shape=(64, 96), img_shape=(64, 96), pad_shape=(64, 96), padding_size=[0, 0, 0, 0])]
    with torch.no_grad():
        raw = model._forward(img)
        whole = model.encode_decode(img, meta)
        model.test_cfg.update(mode='slide', crop_size=(64, 64), stride=(32, 32))
        slide = model.inference(img, meta)
    assert raw.shape[1] == 91 and whole.shape == (1, 81, 64, 96) and slide.shape == (1, 81, 64, 96)
    want = F.interpolate(raw, size=(64, 96), mode='bilinear', align_corners=False)[:, :81]
    assert torch.allclose(whole, want, atol=1e-5)
    with pytest.raises(ValueError, match='keep_channels is for inference'):
        model.loss(img, [])
    bad = small_config(OFFICIAL_COCO_CFG, classes=91)
    bad.model.test_cfg.keep_channels = [3, 4]
    with pytest.raises(ValueError, match='background \\(0\\) first'):
        MODELS.build(bad.model)


def test_tools_test_loads_the_converted_file_as_is(voc_like_root, tmp_path):
    """tools/test.py runs the official-layout config (at small widths, through --cfg-options) on a file written
    by the converter: every tensor of the file loads (no missing or unexpected key reported) and it scores."""
    state = random_official(official_shapes(**SMALL), seed=9)
    src, dst = tmp_path / 'voc_weakclip.pth', tmp_path / 'weakclip_voc_mmseg.pth'
    torch.save(dict(meta=dict(CLASSES=tuple(VOC_NAMES)), state_dict=state), src)
    run_tool('tools/model_converters/weakclip2mmseg.py', str(src), str(dst))
    s = SMALL
    small = [f'model.{tower}.model_cfg.{k}' for tower in ('backbone', 'encoders.text') for k in (
        f'embed_dim={s["joint"]}', f'vision_cfg.image_size={s["res"]}', f'vision_cfg.width={s["vw"]}',
        'vision_cfg.head_width=16', f'text_cfg.width={s["tw"]}', 'text_cfg.heads=2', f'text_cfg.layers={s["tlayers"]}')]
    small += [f'model.neck.adapter.embed_dim={s["vw"]}', f'model.neck.matcher.embed_dim={s["joint"]}',
              f'model.neck.matcher.width={s["dw"]}', 'model.neck.matcher.num_heads=2',
              'model.neck.fpn.in_channels=[' + ','.join([str(s['vw'] + 21)] * 4) + ']',
              f'model.neck.fpn.out_channels={s["fpn"]}', 'model.decode_head.in_channels=[' + ','.join([str(s['fpn'])] * 4) + ']',
              f'model.decode_head.channels={s["fpn"]}']
    res = run_tool('tools/test.py', OFFICIAL_CFG, str(dst), '--work-dir', str(tmp_path / 'test'), '--cfg-options',
                   f'data_root={voc_like_root}', *small)
    out = res.stdout + res.stderr
    assert 'do not match exactly' not in out and 'missing keys' not in out and 'unexpected key' not in out
    assert 'mIoU' in out  # (a file without one of its tensors makes mmengine print both phrases: checked)
