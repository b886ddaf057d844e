"""The DINO ViT loader (the same one for dino_deitsmall8_pretrain.pth and toy-dino) and the shared encoder."""
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
