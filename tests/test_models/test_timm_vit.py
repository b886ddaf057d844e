"""TimmViTEncoder: an ImageNet ViT (timm) with a learned projection into a text space, as DALNet's alternative
encoder (papers/facts/dalnet.md, reconstruction 1): its outputs against timm's own forward, the checkpoint
formats, what trains, and the whole DALNet model on it."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmseg_wsss.models.backbones.timm_vit import VIT_ARCHS, build_timm_vit
from tests.conftest import ROOT


def encoder(**kw):
    torch.manual_seed(0)
    cfg = dict(type='TimmViTEncoder', arch='toy-vit', proj_dim=32, out_indices=(-1, ), proj_indices=(-1, ),
               token_blocks=(1, ))
    cfg.update(kw)
    return MODELS.build(cfg).eval()


def test_outputs_match_timm_forward():
    enc = encoder()
    x = torch.randn(2, 3, 48, 80)  # not the 64 px the position embeddings were made for
    with torch.no_grad():
        maps, extras = enc.forward_with_extras(x)
        final = enc.vit.forward_features(x)  # timm: embeddings, blocks, final norm
        block1 = enc.vit.blocks[:2](enc.vit.norm_pre(enc.vit._pos_embed(enc.vit.patch_embed(x))))
    assert extras['grid'] == (6, 10) and set(extras) == {'cls', 'patches', 'grid', 'tokens'}
    assert enc.extra_outputs == {'cls', 'patches', 'grid', 'tokens.1'}
    W = enc.text_proj.weight
    assert torch.allclose(extras['cls'], final[:, 0] @ W.t(), atol=1e-5)
    assert torch.allclose(extras['patches'], final[:, 1:] @ W.t(), atol=1e-5)
    # feats[0]: the raw final patch tokens (before the norm) as a map; feats[1]: the projected ones
    assert maps[0].shape == (2, 64, 6, 10) and maps[1].shape == (2, 32, 6, 10)
    assert torch.allclose(maps[1].flatten(2).transpose(1, 2), extras['patches'], atol=1e-5)
    assert torch.allclose(enc.vit.norm(maps[0].flatten(2).transpose(1, 2)), final[:, 1:], atol=1e-5)
    t = extras['tokens'][1]
    assert torch.allclose(t['patches'], block1[:, 1:], atol=1e-5)
    assert torch.allclose(t['patches_proj'], enc.vit.norm(block1[:, 1:]) @ W.t(), atol=1e-5)
    assert torch.allclose(t['cls_proj'], enc.vit.norm(block1[:, 0]) @ W.t(), atol=1e-5)


@pytest.mark.parametrize('fmt', ['pth', 'safetensors'])
def test_checkpoint_formats_and_a_missing_file(tmp_path, fmt):
    from timm.models.vision_transformer import VisionTransformer
    torch.manual_seed(1)
    src = VisionTransformer(num_classes=7, **VIT_ARCHS['toy-vit'])  # a classifier head, as ImageNet-21k's
    sd = {f'module.{k}': v for k, v in src.state_dict().items()}
    path = tmp_path / f'vit.{fmt}'
    if fmt == 'pth':
        torch.save(dict(model=sd), path)
    else:
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    vit = build_timm_vit('toy-vit', str(path))
    for k, v in vit.state_dict().items():
        assert torch.equal(v, src.state_dict()[k]), k
    with pytest.raises(FileNotFoundError, match=r'ViT weights not found at .*nope.pth: download .*augreg_in21k'):
        build_timm_vit('toy-vit', str(tmp_path / 'nope.pth'))


def test_train_blocks():
    enc = encoder(train_blocks=1)
    trained = {n.split('.')[0] + '.' + n.split('.')[1] for n, p in enc.named_parameters() if p.requires_grad}
    assert trained == {'vit.blocks', 'vit.norm', 'text_proj.weight'}
    assert all(not p.requires_grad for p in enc.vit.blocks[:-1].parameters())
    x = torch.randn(1, 3, 32, 32)
    enc.train()
    maps, extras = enc.forward_with_extras(x)
    (extras['cls'].sum() + maps[0].sum()).backward()
    assert enc.vit.blocks[-1].attn.qkv.weight.grad is not None and enc.text_proj.weight.grad is not None
    with pytest.raises(ValueError, match='train_blocks'):
        encoder(train_blocks=4)
    # k = 0: the pretrained tower is frozen whole, as OpenCLIPImageEncoder's (one rule, ViTBackboneMixin); the new
    # projection still trains
    frozen = encoder(train_blocks=0)
    assert [n for n, p in frozen.named_parameters() if p.requires_grad] == ['text_proj.weight']


def test_dalnet_on_the_imagenet_encoder():
    """The DALNet toy model with the timm encoder in place of toy-clip's tower: every term computes and the
    learned projection gets gradients from the alignment terms."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(f'{ROOT}/configs/toy/dalnet_toy-clip_1xb8-2k_toy-112x112.py')
    cfg.model.encoders.clip_text.pretrained = None
    cfg.model.backbone = dict(type='TimmViTEncoder', arch='toy-vit', proj_dim=128, out_indices=(-1, ),
                              proj_indices=(-1, ), token_blocks=(1, ))
    cfg.model.cam_head.in_channels = 64
    cfg.model.decode_head.in_channels = 64
    for t in ('gia', 'lea'):
        cfg.model.losses[t].similarity = 'affine'
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).train()
    samples = [SegDataSample(metainfo=dict(img_labels=labels, img_shape=(112, 112), pad_shape=(112, 112)))
               for labels in ([1], [2, 4])]
    losses = model.loss(torch.randn(2, 3, 112, 112), samples)
    for term in ('cls', 'gia', 'lea', 'cc'):
        assert torch.isfinite(losses[f'{term}.loss']), term
    (losses['gia.loss'] + losses['lea.loss']).backward()
    g = model.backbone.text_proj.weight.grad
    assert g is not None and g.abs().sum() > 0
    # the CAM head compares the projected patches with the class texts
    ctx = model.build_context(torch.randn(1, 3, 112, 112), samples[:1])
    h, w = ctx.extras['grid']
    text = ctx.text['class_embeddings']
    want = F.relu(F.normalize(ctx.extras['patches'], dim=-1) @ text.t()).transpose(1, 2).reshape(1, -1, h, w)
    assert torch.allclose(ctx.cams, want, atol=1e-5)
