import open_clip
import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import build_optim_wrapper

from mmseg_wsss.models.clip import OpenCLIPImageEncoder, OpenCLIPTextEncoder, interpolate_pos_embed, tiny_clip_cfg
from mmseg_wsss.models.clip import openclip as oc
from mmseg_wsss.models.clip.prompts import VOC12_CLIP_NAMES
from mmseg_wsss.utils.compat import PretrainedWeightsNotFound

CFG = tiny_clip_cfg()


def text_encoder(**kw):
    args = dict(model_name='tiny', pretrained=None, model_cfg=CFG, class_names=['boat', 'train', 'cow'],
                templates='clims', bg_prompts={'train': ['railroad', 'railway'], 'boat': ['river']})
    args.update(kw)
    return OpenCLIPTextEncoder(**args)


def test_fixed_prompts_encoded_once_and_frozen():
    runs = []

    def count(module, args, output):
        if isinstance(module, open_clip.transformer.Transformer):
            runs.append(1)
    handle = torch.nn.modules.module.register_module_forward_hook(count)
    try:
        enc = text_encoder()
        assert len(runs) == 2  # one batch for the single template, one for the background prompts
        for _ in range(5):
            out = enc()
    finally:
        handle.remove()
    assert len(runs) == 2  # no text forward per iteration
    assert out['class_embeddings'].shape == (3, 32)
    assert torch.allclose(out['class_embeddings'].norm(dim=-1), torch.ones(3))
    assert enc.bg_texts == ['a photo of river.', 'a photo of railroad.', 'a photo of railway.']
    assert enc.bg_owner.tolist() == [0, 1, 1]
    assert not any(p.requires_grad for p in enc.parameters())
    # the fixed embedding is exactly CLIP's encode_text of the prompt
    ref = enc.clip.encode_text(enc.tokenize(['a photo of boat.']), normalize=True)
    assert torch.allclose(out['class_embeddings'][0], ref[0], atol=1e-5)
    enc.train()
    assert not enc.clip.training


def test_learnable_context_and_background_get_gradients():
    enc = text_encoder(n_ctx=4, learnable_bg=True, background_prompt='a photo of background.')
    trainable = [n for n, p in enc.named_parameters() if p.requires_grad]
    assert sorted(trainable) == ['background', 'ctx']
    out = enc()
    (out['class_embeddings'].sum() + out['background'].sum()).backward()
    assert enc.ctx.grad.abs().sum() > 0 and enc.background.grad.abs().sum() > 0
    assert all(p.grad is None for n, p in enc.named_parameters() if n not in ('ctx', 'background'))


def test_class_name_tables_and_bad_bg_prompts():
    assert 'dining table' in VOC12_CLIP_NAMES and 'tv monitor' in VOC12_CLIP_NAMES and len(VOC12_CLIP_NAMES) == 20
    with pytest.raises(KeyError, match='not in class_names'):
        text_encoder(bg_prompts={'zebra': ['savanna']})


def test_image_encoder_evaluator_and_backbone():
    enc = OpenCLIPImageEncoder(model_name='tiny', pretrained=None, model_cfg=CFG, out_indices=(0, -1),
                               train_blocks=0)
    assert not any(p.requires_grad for p in enc.parameters())
    x = torch.rand(3, 3, 50, 70, requires_grad=True)
    emb = enc.encode(x)
    assert emb.shape == (3, 32) and torch.allclose(emb.norm(dim=-1), torch.ones(3), atol=1e-5)
    emb.sum().backward()
    assert x.grad.abs().sum() > 0  # gradient reaches the input (CLIMS's CAMs)
    assert all(p.grad is None for p in enc.parameters())
    # at the native size, encode() equals open_clip's own image encoding
    img = torch.rand(2, 3, 32, 32)
    ref = torch.nn.functional.normalize(enc.visual((img - enc.mean) / enc.std), dim=-1)
    assert torch.allclose(enc.encode(img), ref, atol=1e-5)
    maps = enc(torch.rand(2, 3, 48, 64))
    assert [m.shape for m in maps] == [(2, 32, 6, 8), (2, 32, 6, 8)]
    assert not maps[0].requires_grad  # a frozen tower runs without autograd
    tok = enc.forward_tokens(img[:1])
    assert tok['cls'].shape == (1, 32) and tok['patches'].shape == (1, 16, 32)
    # the class token of the native-size forward is open_clip's image embedding
    assert torch.allclose(tok['cls'], enc.visual(img[:1]), atol=1e-5)


def test_pos_embed_interpolation():
    pos = torch.randn(1 + 14 * 14, 8)
    assert interpolate_pos_embed(pos, (14, 14), (14, 14)) is pos  # 224 inputs unchanged
    out = interpolate_pos_embed(pos, (14, 14), (32, 20))
    assert out.shape == (1 + 32 * 20, 8) and torch.equal(out[0], pos[0])
    # a direct transcription: the patch grid resized by F.interpolate (half-pixel, no antialias), class kept
    for mode in ('bicubic', 'bilinear'):
        grid = pos[1:].reshape(1, 14, 14, 8).permute(0, 3, 1, 2)
        ref = F.interpolate(grid, size=(32, 20), mode=mode, align_corners=False).permute(0, 2, 3, 1).reshape(-1, 8)
        assert torch.allclose(interpolate_pos_embed(pos, (14, 14), (32, 20), mode)[1:], ref, atol=1e-6), mode
        down = F.interpolate(grid, size=(7, 9), mode=mode, align_corners=False).permute(0, 2, 3, 1).reshape(-1, 8)
        assert torch.allclose(interpolate_pos_embed(pos, (14, 14), (7, 9), mode)[1:], down, atol=1e-6), mode


def test_frozen_towers_not_in_optimizer():
    model = torch.nn.ModuleDict(dict(text=text_encoder(n_ctx=2), head=torch.nn.Linear(4, 2)))
    wrapper = build_optim_wrapper(model, dict(type='OptimWrapper', constructor='FrozenAwareOptimWrapperConstructor',
                                              optimizer=dict(type='SGD', lr=0.1)))
    in_opt = {id(p) for g in wrapper.optimizer.param_groups for p in g['params']}
    expected = {id(p) for p in model.parameters() if p.requires_grad}
    assert in_opt == expected and len(expected) == 3  # ctx, head weight, head bias


def test_missing_weights_fail_fast(tmp_path, monkeypatch):
    """Uncached weights behind an unreachable host: one bounded probe (no download attempt), then one line naming
    the file and the config key. Checked by what is called, not by a wall clock (a loaded machine is slow)."""
    probes = []
    monkeypatch.setattr(oc, '_reachable', lambda host, port=443, timeout=oc.PROBE_TIMEOUT_S:
                        probes.append((host, timeout)) and False)
    monkeypatch.setattr(oc.open_clip, 'download_pretrained', lambda *a, **k: pytest.fail('a download was tried'))
    monkeypatch.setenv('HF_HUB_CACHE', str(tmp_path))
    monkeypatch.setattr(oc.osp, 'expanduser', lambda p: p.replace('~', str(tmp_path)))
    with pytest.raises(PretrainedWeightsNotFound, match=r'ViT-B-16/openai are not cached.*text_encoder\.pretrained'):
        OpenCLIPTextEncoder(model_name='ViT-B-16', pretrained='openai')
    assert len(probes) == 1 and probes[0][1] == oc.PROBE_TIMEOUT_S <= 5
    with pytest.raises(PretrainedWeightsNotFound, match='CLIP checkpoint not found: /no/such/clip.bin'):
        OpenCLIPImageEncoder(model_name='ViT-B-16', pretrained='/no/such/clip.bin')
    with pytest.raises(PretrainedWeightsNotFound, match='run `make toy-teachers`'):
        OpenCLIPImageEncoder(model_name='toy-clip', pretrained='/no/such/toy_clip.pt')
    with pytest.raises(ValueError, match='unknown open_clip pretrained tag'):
        OpenCLIPImageEncoder(model_name='ViT-B-16', pretrained='nonsense')


def test_resnet_clip_tower():
    cfg = dict(embed_dim=32, vision_cfg=dict(image_size=64, layers=(1, 1, 1, 1), width=16),
               text_cfg=dict(context_length=16, vocab_size=49408, width=32, heads=2, layers=1))
    enc = OpenCLIPImageEncoder(model_name='tiny-rn', pretrained=None, model_cfg=cfg, out_indices=(1, 3))
    assert not enc.is_vit
    x = torch.rand(2, 3, 40, 56, requires_grad=True)
    emb = enc.encode(x)
    emb.sum().backward()
    assert emb.shape == (2, 32) and x.grad.abs().sum() > 0
    maps = enc(torch.rand(1, 3, 64, 96))
    assert [m.shape[1:] for m in maps] == [(128, 8, 12), (512, 2, 3)]
    with pytest.raises(NotImplementedError):
        enc.forward_tokens(torch.rand(1, 3, 64, 64))


def test_trainable_tower_last_blocks_and_block_tokens():
    """DALNet's access: a tower whose last k blocks train, with class and patch tokens of chosen blocks before
    and after the final LayerNorm + projection."""
    cfg = tiny_clip_cfg(layers=3)
    torch.manual_seed(0)
    enc = OpenCLIPImageEncoder(model_name='tiny', pretrained=None, model_cfg=cfg, out_indices=(-1, ),
                               train_blocks=2, token_blocks=(1, -1))
    trained = {n.split('.')[1] if not n.startswith('visual.transformer') else '.'.join(n.split('.')[:4])
               for n, p in enc.named_parameters() if p.requires_grad}
    assert trained == {'visual.transformer.resblocks.1', 'visual.transformer.resblocks.2', 'ln_post', 'proj'}
    img = torch.rand(2, 3, 32, 32)
    feats, extras = enc.forward_with_extras((img - enc.mean) / enc.std)
    tokens = extras['tokens']
    assert sorted(tokens) == [1, 2]
    assert tokens[1]['cls'].shape == (2, 32) and tokens[1]['patches'].shape == (2, 16, 32)
    assert tokens[1]['cls_proj'].shape == (2, 32) and tokens[1]['patches_proj'].shape == (2, 16, 32)
    v = enc.visual
    assert torch.allclose(tokens[1]['cls_proj'], v.ln_post(tokens[1]['cls']) @ v.proj, atol=1e-6)
    assert torch.equal(tokens[2]['cls_proj'], extras['cls'])
    with torch.no_grad():  # the last block's projected class token is open_clip's image embedding
        assert torch.allclose(extras['cls'], v((img - enc.mean) / enc.std), atol=1e-5)
    tokens[1]['patches_proj'].sum().backward()
    grads = {n: p.grad for n, p in enc.named_parameters()}
    assert grads['visual.transformer.resblocks.1.attn.in_proj_weight'].abs().sum() > 0
    assert grads['visual.ln_post.weight'].abs().sum() > 0
    assert grads['visual.transformer.resblocks.0.attn.in_proj_weight'] is None  # frozen, run without autograd
    assert grads['visual.conv1.weight'] is None
    assert not feats[0].requires_grad or feats[0].grad_fn is not None
    with pytest.raises(ValueError, match='train_blocks'):
        OpenCLIPImageEncoder(model_name='tiny', pretrained=None, model_cfg=cfg, train_blocks=4)


def test_layer_wise_learning_rates():
    cfg = tiny_clip_cfg(layers=3)
    model = torch.nn.ModuleDict(dict(
        backbone=OpenCLIPImageEncoder(model_name='tiny', pretrained=None, model_cfg=cfg),
        head=torch.nn.Linear(4, 2)))
    wrapper = build_optim_wrapper(model, dict(
        type='OptimWrapper', constructor='FrozenAwareOptimWrapperConstructor', optimizer=dict(type='AdamW', lr=1.0),
        paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.0)}, layer_decay=dict(module='backbone', rate=0.5))))
    lr = {id(p): g['lr'] for g in wrapper.optimizer.param_groups for p in g['params']}
    named = dict(model.named_parameters())
    assert lr[id(named['backbone.visual.conv1.weight'])] == 0.5 ** 4          # embeddings: rate^(L + 1)
    for i in range(3):                                                         # block i: rate^(L - i)
        assert lr[id(named[f'backbone.visual.transformer.resblocks.{i}.mlp.c_fc.weight'])] == 0.5 ** (3 - i)
    assert lr[id(named['backbone.visual.proj'])] == 1.0 and lr[id(named['head.weight'])] == 10.0


def test_quick_gelu_for_openai_weights(tmp_path, monkeypatch):
    """OpenAI's towers run with QuickGELU (their training activation), taken from the pretrained tag before it
    becomes a local file; other weights keep GELU (open_clip issue 771)."""
    assert oc.quick_gelu_for('ViT-B-16', 'openai') is True
    assert oc.quick_gelu_for('ViT-B-16', 'laion2b_s34b_b88k') is False
    f = tmp_path / 'weights.bin'
    f.write_bytes(b'')
    assert oc.quick_gelu_for('ViT-B-16', str(f)) is False and oc.quick_gelu_for('ViT-B-16', str(f), True) is True
    with pytest.raises(ValueError, match='contradicts the pretrained tag'):
        oc.quick_gelu_for('ViT-B-16', 'openai', False)
    quick = open_clip.transformer.QuickGELU
    assert any(isinstance(m, quick) for m in oc.build_open_clip('tiny', None, CFG, quick_gelu=True).modules())
    assert not any(isinstance(m, quick) for m in oc.build_open_clip('tiny', None, CFG).modules())
    # the named-model path passes it on to open_clip (weights resolution stubbed: nothing can be fetched here)
    calls = []

    def create_model(name, pretrained=None, force_quick_gelu=False):
        calls.append((name, pretrained, force_quick_gelu))
        return open_clip.CLIP(**CFG, quick_gelu=force_quick_gelu)
    monkeypatch.setattr(oc, 'resolve_pretrained', lambda name, tag, key: f'/cache/{name}-{tag}.bin')
    monkeypatch.setattr(oc.open_clip, 'create_model', create_model)
    enc = OpenCLIPImageEncoder(model_name='ViT-B-16', pretrained='openai')
    assert calls[-1] == ('ViT-B-16', '/cache/ViT-B-16-openai.bin', True)
    assert any(isinstance(m, quick) for m in enc.modules())
    oc.build_open_clip('ViT-B-16', 'laion2b_s34b_b88k')
    assert calls[-1][2] is False


def test_learnable_prompt_starts_as_the_fixed_prompt_with_ctx_init():
    """CoOp's initialisation: context vectors from the token embeddings of ``ctx_init`` make the learnable prompt
    equal to the fixed one at the start, and train from there; a word count other than n_ctx is refused."""
    torch.manual_seed(0)
    kw = dict(model_name='tiny', pretrained=None, model_cfg=CFG, class_names=['boat', 'cow'])
    learn = OpenCLIPTextEncoder(**kw, n_ctx=3, ctx_init='a photo of', ctx_suffix='.')
    fixed = OpenCLIPTextEncoder(**kw, templates=['a photo of {}.'])
    fixed.clip.load_state_dict(learn.clip.state_dict())
    fixed_emb = fixed._encode_texts(['a photo of boat.', 'a photo of cow.'])
    out = learn()['class_embeddings']
    assert torch.allclose(out, fixed_emb, atol=1e-6)
    out.sum().backward()
    assert learn.ctx.grad.abs().sum() > 0 and learn.clip.token_embedding.weight.grad is None
    with pytest.raises(ValueError, match="ctx_init 'a photo' is 2 tokens but n_ctx is 3"):
        OpenCLIPTextEncoder(**kw, n_ctx=3, ctx_init='a photo')
