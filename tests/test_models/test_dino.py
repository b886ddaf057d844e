"""The DINO ViT loader (the same one for dino_deitsmall8_pretrain.pth, toy-dino and the DINOv2 release files) and
the shared encoder."""
import json
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmseg_wsss.models.dino import DINO_ARCHS, build_dino_vit, dino_state_dict, last_block_qkv


def test_vit_s8_matches_timm_layout():
    """Our 'vit-s8' has the keys and shapes of timm's vit_small_patch8_224 (the layout of the DINO release file)."""
    import timm
    ref = timm.create_model('vit_small_patch8_224', pretrained=False, num_classes=0).state_dict()
    ours = build_dino_vit('vit-s8').state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in ref.items()}
    assert ours['pos_embed'].shape == (1, 785, 384) and DINO_ARCHS['vit-s8']['num_heads'] == 6


@pytest.mark.parametrize('wrap', ['plain', 'teacher_backbone', 'student_module_backbone'])
def test_checkpoint_forms_load_strictly(tmp_path, wrap):
    torch.manual_seed(0)
    src = build_dino_vit('toy-dino')
    sd = src.state_dict()
    if wrap == 'teacher_backbone':  # DINO's full checkpoint: teacher weights under backbone., plus the head
        obj = dict(teacher={**{f'backbone.{k}': v for k, v in sd.items()}, 'head.last_layer.weight': torch.ones(2)},
                   student={})
    elif wrap == 'student_module_backbone':
        obj = dict(student={f'module.backbone.{k}': v for k, v in sd.items()})
    else:
        obj = sd
    path = tmp_path / 'dino.pth'
    torch.save(obj, path)
    loaded = build_dino_vit('toy-dino', str(path))
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, sd[k]), k
    assert 'head.last_layer.weight' not in dino_state_dict(obj)


def test_missing_or_mismatched_file_fails_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match='dino_deitsmall8_pretrain.pth'):
        build_dino_vit('vit-s8', str(tmp_path / 'dino_deitsmall8_pretrain.pth'))
    with pytest.raises(FileNotFoundError, match='make toy-teachers'):
        build_dino_vit('toy-dino', str(tmp_path / 'toy_dino.pth'))
    torch.save({'cls_token': torch.zeros(1, 1, 96)}, tmp_path / 'partial.pth')
    with pytest.raises(RuntimeError, match='Missing key'):  # strict: a partial file is an error, not a warning
        build_dino_vit('toy-dino', str(tmp_path / 'partial.pth'))


def test_last_block_qkv_is_the_last_blocks_attention_input():
    torch.manual_seed(0)
    vit = build_dino_vit('toy-dino').eval()
    x = torch.randn(2, 3, 48, 40)
    captured = {}
    vit.blocks[-1].attn.qkv.register_forward_hook(lambda m, i, o: captured.setdefault('qkv', o))
    vit.forward_features(x)
    out = last_block_qkv(vit, x)
    q, k, v = captured['qkv'].chunk(3, dim=-1)
    assert out['grid'] == (6, 5) and out['k'].shape == (2, 31, 96)
    assert torch.allclose(out['q'], q, atol=1e-6) and torch.allclose(out['k'], k, atol=1e-6)


def test_encoder_normalises_with_imagenet_stats_and_returns_unit_vectors():
    torch.manual_seed(0)
    enc = MODELS.build(dict(type='DINOViTEncoder', arch='toy-dino'))
    images = torch.rand(2, 3, 64, 56)
    out = enc.encode_batch(images)
    assert out['keys'].shape == (2, 56, 96) and out['cls_query'].shape == (2, 96) and out['grid'] == (8, 7)
    assert torch.allclose(out['keys'].norm(dim=-1), torch.ones(2, 56), atol=1e-5)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    ref = last_block_qkv(enc.vit, (images - mean) / std)
    assert torch.allclose(out['keys'], F.normalize(ref['k'][:, 1:], dim=-1), atol=1e-6)


# ---------------------------------------------------------------- DINOv2 (official release files)
DINOV2_KEYS = json.load(open(osp.join(osp.dirname(__file__), '..', 'fixtures', 'official_keys', 'dinov2.json')))['keys']


def _random_state(shapes: dict, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, shape in shapes.items():
        if k.endswith('ls1.gamma') or k.endswith('ls2.gamma'):
            out[k] = 0.1 + 0.05 * torch.rand(shape, generator=g)
        elif k.endswith('norm1.weight') or k.endswith('norm2.weight') or k == 'norm.weight':
            out[k] = 1 + 0.1 * torch.randn(shape, generator=g)
        elif len(shape) >= 2 and k.endswith('weight'):
            out[k] = torch.randn(shape, generator=g) / (torch.tensor(shape[1:]).prod().float().sqrt())
        else:
            out[k] = 0.1 * torch.randn(shape, generator=g)
    return out


@pytest.mark.parametrize('release,arch', [('dinov2_vits14', 'dinov2-vits14'), ('dinov2_vits14_reg4', 'dinov2-vits14-reg4'),
                                          ('dinov2_vitb14', 'dinov2-vitb14'), ('dinov2_vitb14_reg4', 'dinov2-vitb14-reg4')])
def test_dinov2_release_layouts_load_strictly(release, arch, tmp_path):
    """The official DINOv2 files' layouts (key lists generated from facebookresearch/dinov2's classes) load
    strict=True into the archs of that name; with registers the class token absorbs its position embedding."""
    state = _random_state(DINOV2_KEYS[release])
    path = tmp_path / f'{release}_pretrain.pth'
    torch.save(state, path)
    enc = MODELS.build(dict(type='DINOViTEncoder', arch=arch, checkpoint=str(path)))
    vit = enc.vit
    if 'reg4' in release:
        assert torch.equal(vit.reg_token, state['register_tokens'])
        assert torch.equal(vit.cls_token, state['cls_token'] + state['pos_embed'][:, :1])
        assert torch.equal(vit.pos_embed, state['pos_embed'][:, 1:]) and vit.num_prefix_tokens == 5
    else:
        assert torch.equal(vit.pos_embed, state['pos_embed']) and vit.num_prefix_tokens == 1
    assert torch.equal(vit.blocks[11].ls2.gamma, state['blocks.11.ls2.gamma'])
    out = enc.encode_batch(torch.rand(1, 3, 56, 42))
    assert out['grid'] == (4, 3) and out['keys'].shape == (1, 12, vit.embed_dim)  # patch keys only
    with pytest.raises(FileNotFoundError, match=f'dl.fbaipublicfiles.com/dinov2/.*/{release}_pretrain.pth'):
        build_dino_vit(arch, str(tmp_path / 'absent.pth'))


def _official_dinov2_last_keys(sd: dict, img: torch.Tensor, heads: int) -> torch.Tensor:
    """The last block's keys of the official DinoVisionTransformer, written from reading
    dinov2/models/vision_transformer.py and dinov2/layers: patch embedding, the class token, the position table
    added (at its native grid: no interpolation), then the registers inserted after the class token without
    position; blocks x + ls1 * attn(norm1(x)), x + ls2 * mlp(norm2(x)) (GELU MLP)."""
    x = F.conv2d(img, sd['patch_embed.proj.weight'], sd['patch_embed.proj.bias'], stride=14)
    B, C = x.shape[:2]
    x = x.flatten(2).transpose(1, 2)
    x = torch.cat([sd['cls_token'].expand(B, -1, -1), x], dim=1) + sd['pos_embed']
    if 'register_tokens' in sd:
        x = torch.cat([x[:, :1], sd['register_tokens'].expand(B, -1, -1), x[:, 1:]], dim=1)
    n = 1 + max(int(k.split('.')[1]) for k in sd if k.startswith('blocks.'))

    def ln(t, p):
        return F.layer_norm(t, (C, ), sd[p + 'weight'], sd[p + 'bias'], 1e-6)

    for i in range(n):
        p = f'blocks.{i}.'
        qkv = F.linear(ln(x, p + 'norm1.'), sd[p + 'attn.qkv.weight'], sd[p + 'attn.qkv.bias'])
        if i == n - 1:
            return qkv[..., C:2 * C]
        q, k, v = qkv.reshape(B, -1, 3, heads, C // heads).permute(2, 0, 3, 1, 4)
        a = ((q * (C // heads) ** -0.5) @ k.transpose(-2, -1)).softmax(-1)
        o = F.linear((a @ v).transpose(1, 2).reshape(B, -1, C), sd[p + 'attn.proj.weight'], sd[p + 'attn.proj.bias'])
        x = x + sd[p + 'ls1.gamma'] * o
        h = F.linear(F.gelu(F.linear(ln(x, p + 'norm2.'), sd[p + 'mlp.fc1.weight'], sd[p + 'mlp.fc1.bias'])),
                     sd[p + 'mlp.fc2.weight'], sd[p + 'mlp.fc2.bias'])
        x = x + sd[p + 'ls2.gamma'] * h


@pytest.mark.parametrize('reg', [0, 4])
def test_dinov2_keys_match_the_official_forward(reg, tmp_path):
    """At small widths (the official layout scaled down: 2 blocks of width 32 at a 56-px table), the last block's
    keys of the loaded timm model equal a transcription of the official forward's, registers included."""
    C, heads = 32, 2
    shapes = {'cls_token': [1, 1, C], 'pos_embed': [1, 1 + 16, C], 'mask_token': [1, C],
              'patch_embed.proj.weight': [C, 3, 14, 14], 'patch_embed.proj.bias': [C], 'norm.weight': [C],
              'norm.bias': [C]}
    if reg:
        shapes['register_tokens'] = [1, reg, C]
    for i in range(2):
        p = f'blocks.{i}.'
        shapes.update({p + 'norm1.weight': [C], p + 'norm1.bias': [C], p + 'attn.qkv.weight': [3 * C, C],
                       p + 'attn.qkv.bias': [3 * C], p + 'attn.proj.weight': [C, C], p + 'attn.proj.bias': [C],
                       p + 'ls1.gamma': [C], p + 'norm2.weight': [C], p + 'norm2.bias': [C],
                       p + 'mlp.fc1.weight': [4 * C, C], p + 'mlp.fc1.bias': [4 * C], p + 'mlp.fc2.weight': [C, 4 * C],
                       p + 'mlp.fc2.bias': [C], p + 'ls2.gamma': [C]})
    state = _random_state(shapes, seed=reg)
    torch.save(state, tmp_path / 'small.pth')
    extra = dict(reg_tokens=reg, no_embed_class=True) if reg else {}
    vit = build_dino_vit('dinov2-vits14', str(tmp_path / 'small.pth'), img_size=56, embed_dim=C, depth=2,
                         num_heads=heads, **extra).eval()
    img = torch.randn(2, 3, 56, 56, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = _official_dinov2_last_keys(state, img, heads)
        got = last_block_qkv(vit, img)['k']
    assert got.shape == want.shape == (2, 1 + reg + 16, C)
    assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()
