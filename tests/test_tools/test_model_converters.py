"""tools/model_converters: official checkpoints -> this project's configs, on random tensors of the official
layouts (key lists generated once from the official model classes: tests/fixtures/official_keys/, names and
shapes only), loaded strict=True, and the converted network's outputs against a transcription of the official
forward."""
import hashlib
import json
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
import torchvision
from mmengine.config import Config
from mmseg.registry import MODELS

from tests.conftest import ROOT, load_tool, run_tool

IRN_KEYS = json.load(open(osp.join(ROOT, 'tests/fixtures/official_keys/irn_res50_cam.json')))
CAM_CFGS = dict(voc='configs/cam/cam_r50-d16_1xb16-3.3k_voc12aug-512x512.py',
                coco='configs/cam/cam_r50-d16_1xb16-6.2k_coco14-512x512.py')


def random_tensor(key: str, shape, g: torch.Generator) -> torch.Tensor:
    """A random tensor for an official checkpoint's ``key``: BN counters 0, variances positive, biases and means
    small, 1-d weights (norms) near 1, other weights fan-in scaled (deep stacks stay finite)."""
    if key.endswith('num_batches_tracked'):
        return torch.zeros((), dtype=torch.long)
    if key.endswith('running_var'):
        return 0.5 + torch.rand(shape, generator=g)
    if key.endswith(('running_mean', '.bias')):
        return 0.1 * torch.randn(shape, generator=g)
    if len(shape) == 1:
        return 1 + 0.1 * torch.randn(shape, generator=g)
    return torch.randn(shape, generator=g) * (1.0 / int(torch.tensor(shape[1:]).prod())) ** 0.5


def _random_official(num_classes: int, seed: int = 0) -> dict:
    """A state dict of IRNet's layout with random tensors; every alias is the same tensor as the key it repeats
    (as ``state_dict()`` of the official Net returns them)."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, (shape, alias_of) in IRN_KEYS['layout'].items():
        if key == 'classifier.weight' or alias_of == 'classifier.weight':
            shape = [num_classes, 2048, 1, 1]
        state[key] = state[alias_of] if alias_of is not None else random_tensor(key, shape, g)
    return state


def _build(cfg_path: str):
    cfg = Config.fromfile(osp.join(ROOT, cfg_path))
    cfg.model.backbone.init_cfg = None
    return MODELS.build(cfg.model).eval()


@pytest.mark.parametrize('name,tool,dataset', [('res50_cam_voc', 'irn_cam2mmseg.py', 'voc'),
                                               ('res50_cam_coco', 'irn_cam2mmseg.py', 'coco'),
                                               ('res50_clims_voc', 'clims2mmseg.py', 'voc')])
def test_irn_layout_converts_and_loads_strict(name, tool, dataset, tmp_path):
    classes = IRN_KEYS['classifier_shape'][name][0]
    src, dst = tmp_path / f'{name}.pth', tmp_path / f'{name}_mmseg.pth'
    state = _random_official(classes)
    torch.save(state, src)
    res = run_tool(f'tools/model_converters/{tool}', str(src), str(dst))
    aliases = [k for k, (_, a) in IRN_KEYS['layout'].items() if a is not None]
    assert len(state) == 956 and len(aliases) == 956 - 319
    assert f'956 keys -> 319 tensors ({len(aliases)} aliases checked equal and dropped), {classes} classes' in res.stdout
    ckpt = torch.load(dst, map_location='cpu', weights_only=False)
    model = _build(CAM_CFGS[dataset])
    model.load_state_dict(ckpt['state_dict'], strict=True)
    assert torch.equal(model.cam_head.classifier.weight, state['classifier.weight'])
    assert torch.equal(model.backbone.layer4[2].bn3.running_var, state['resnet50.layer4.2.bn3.running_var'])
    meta = ckpt['meta']
    assert meta['converted_from'] == src.name and meta['sha256'] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert meta['converter'] == tool[:-3] and len(meta['dataset_meta']['classes']) == classes + 1


def test_irn_converter_refuses_what_is_not_the_layout(tmp_path):
    tool = load_tool('tools/model_converters/irn_cam2mmseg.py')
    state = _random_official(20)
    state['stage3.0.1.conv2.weight'] = state['stage3.0.1.conv2.weight'] + 1  # an "alias" that is not one
    with pytest.raises(ValueError, match=r'stage3.0.1.conv2.weight differs from resnet50.layer3.1.conv2.weight'):
        tool.convert_irn_cam(state)
    state = _random_official(20)
    state['aux_head.weight'] = torch.zeros(3)
    with pytest.raises(ValueError, match="unexpected key 'aux_head.weight'"):
        tool.convert_irn_cam(state)
    torch.save({'module.' + k: v for k, v in _random_official(7).items()}, tmp_path / 'seven.pth')  # DataParallel
    res = run_tool('tools/model_converters/irn_cam2mmseg.py', str(tmp_path / 'seven.pth'), str(tmp_path / 'o.pth'),
                   check=False)
    assert res.returncode != 0 and 'a 7-class classifier: neither VOC (20) nor COCO (80)' in res.stderr


def _official_cam_forward(state: dict, x: torch.Tensor):
    """IRNet's ``Net_CAM.forward``, written from reading net/resnet50_cam.py and net/resnet50.py: torchvision's
    ResNet-50 (the stride on each bottleneck's 3x3 conv) with strides (2, 2, 2, 1) for conv1 / layer2-4, frozen BN,
    then image logits = classifier(global average pool(feature)) and CAMs = ReLU(conv(feature, classifier))."""
    net = torchvision.models.resnet50(weights=None)
    net.layer4[0].conv2.stride = (1, 1)
    net.layer4[0].downsample[0].stride = (1, 1)
    missing, unexpected = net.load_state_dict({k[len('resnet50.'):]: v for k, v in state.items()
                                               if k.startswith('resnet50.')}, strict=False)
    assert set(missing) == {'fc.weight', 'fc.bias'} and not unexpected
    net.eval()
    f = net.layer4(net.layer3(net.layer2(net.layer1(net.maxpool(net.relu(net.bn1(net.conv1(x))))))))
    w = state['classifier.weight']
    logits = F.conv2d(F.adaptive_avg_pool2d(f, 1), w).flatten(1)
    return logits, F.relu(F.conv2d(f, w))


def test_converted_cam_network_matches_the_official_forward():
    tool = load_tool('tools/model_converters/irn_cam2mmseg.py')
    state = _random_official(20, seed=1)
    converted, _ = tool.convert_irn_cam(state)
    model = _build(CAM_CFGS['voc'])
    model.load_state_dict(converted, strict=True)
    x = torch.randn(2, 3, 64, 80, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want_logits, want_cams = _official_cam_forward(state, x)
        out = model.cam_head(model.backbone(x))
    assert want_cams.shape == (2, 20, 4, 5)  # output stride 16
    assert torch.allclose(out['cls_logits'], want_logits, rtol=1e-4, atol=1e-5)
    assert torch.allclose(model.cam_head.cams(out), want_cams, rtol=1e-4, atol=1e-5)


AFA_KEYS = json.load(open(osp.join(ROOT, 'tests/fixtures/official_keys/afa_wetr_mit_b1.json')))['keys']
AFA_CFG = 'configs/afa/afa_mit-b1_2xb2-20k_voc12aug-512x512.py'


def _random_tensors(shapes: dict, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in shapes.items():
        if key.endswith('num_batches_tracked'):
            out[key] = torch.zeros((), dtype=torch.long)
        elif key.endswith('running_var'):
            out[key] = 0.5 + torch.rand(shape, generator=g)
        else:
            out[key] = 0.1 * torch.randn(shape, generator=g)
    return out


def test_afa_official_checkpoint_converts_and_loads_strict(tmp_path):
    """A checkpoint of AFA's official code (WeTr, MiT-B1, saved from its DDP wrapper: 195 keys under module.)
    loads strict=True into the AFA config with the official-layout SegFormer head; every key is mapped."""
    state = _random_tensors(AFA_KEYS)
    src, dst = tmp_path / 'wetr_iter_20000.pth', tmp_path / 'afa_mmseg.pth'
    torch.save(state, src)
    res = run_tool('tools/model_converters/afa2mmseg.py', str(src), str(dst))
    assert '195 keys -> 179 tensors, 20 classes' in res.stdout  # q and kv joined in each of the 8 blocks
    ckpt = torch.load(dst, map_location='cpu', weights_only=False)
    cfg = Config.fromfile(osp.join(ROOT, AFA_CFG))
    cfg.model.backbone.init_cfg = None
    cfg.model.decode_head.type = 'SegformerOfficialHead'
    model = MODELS.build(cfg.model)
    model.load_state_dict(ckpt['state_dict'], strict=True)
    # q and kv become the attention's in_proj; the MLP's linear layers 1x1 convs; attn_proj the affinity head
    p = 'module.encoder.block4.1.attn.'
    assert torch.equal(model.backbone.layers[3][1][1].attn.attn.in_proj_weight,
                       torch.cat([state[p + 'q.weight'], state[p + 'kv.weight']]))
    assert torch.equal(model.backbone.layers[0][1][0].ffn.layers[0].weight[:, :, 0, 0],
                       state['module.encoder.block1.0.mlp.fc1.weight'])
    assert torch.equal(model.heads.affinity.proj.weight, state['module.attn_proj.weight'])
    assert ckpt['meta']['converter'] == 'afa2mmseg' and ckpt['meta']['decode_head'] == 'SegformerOfficialHead'
    tool = load_tool('tools/model_converters/afa2mmseg.py')
    bad = {k[len('module.'):]: v for k, v in state.items()}
    bad['encoder.block2.0.attn.extra.weight'] = torch.zeros(1)
    with pytest.raises(ValueError, match="unexpected encoder key 'block2.0.attn.extra.weight'"):
        tool.convert_afa(bad)


def _official_segformer_head(state: dict, feats: list) -> torch.Tensor:
    """The official SegFormer head's forward (AFA / ECA ``SegFormerHead``), written from reading
    wetr/segformer_head.py, in eval mode: per level a linear projection of the flattened features, all resized to
    the finest level, concatenated c4, c3, c2, c1, a 1x1 conv without bias + BN + ReLU, the 1x1 classifier."""
    c1 = feats[0]
    levels = []
    for k in (4, 3, 2, 1):
        x = feats[k - 1]
        n, _, h, w = x.shape
        y = F.linear(x.flatten(2).transpose(1, 2), state[f'decoder.linear_c{k}.proj.weight'],
                     state[f'decoder.linear_c{k}.proj.bias']).transpose(1, 2).reshape(n, -1, h, w)
        levels.append(y if k == 1 else F.interpolate(y, size=c1.shape[2:], mode='bilinear', align_corners=False))
    x = F.conv2d(torch.cat(levels, 1), state['decoder.linear_fuse.conv.weight'])
    bn = 'decoder.linear_fuse.bn.'
    x = F.relu(F.batch_norm(x, state[bn + 'running_mean'], state[bn + 'running_var'], state[bn + 'weight'],
                            state[bn + 'bias'], False, 0.0, 1e-5))
    return F.conv2d(x, state['decoder.linear_pred.weight'], state['decoder.linear_pred.bias'])


def test_segformer_official_head_matches_the_official_forward():
    """At small widths: the converted SegformerOfficialHead's logits equal the official head's; mmseg's
    SegformerHead (norm + activation per level, c1..c4) with the same weights does not."""
    tool = load_tool('tools/model_converters/afa2mmseg.py')
    widths, ch, k = [8, 16, 24, 32], 16, 5
    shapes = {f'decoder.linear_c{i + 1}.proj.weight': [ch, c] for i, c in enumerate(widths)}
    shapes.update({f'decoder.linear_c{i + 1}.proj.bias': [ch] for i in range(4)})
    shapes.update({'decoder.linear_fuse.conv.weight': [ch, 4 * ch, 1, 1], 'decoder.linear_pred.weight': [k, ch, 1, 1],
                   'decoder.linear_pred.bias': [k], 'classifier.weight': [k - 1, 32, 1, 1],
                   **{f'decoder.linear_fuse.bn.{n}': [ch] for n in ('weight', 'bias', 'running_mean', 'running_var')},
                   'decoder.linear_fuse.bn.num_batches_tracked': []})
    state = _random_tensors(shapes, seed=3)
    converted = tool.convert_afa(state)
    head = MODELS.build(dict(type='SegformerOfficialHead', in_channels=widths, in_index=[0, 1, 2, 3], channels=ch,
                             num_classes=k, norm_cfg=dict(type='BN'))).eval()
    head.load_state_dict({n[len('decode_head.'):]: v for n, v in converted.items() if n.startswith('decode_head.')},
                         strict=True)
    g = torch.Generator().manual_seed(4)
    feats = [torch.randn(2, c, 32 // 2 ** i, 32 // 2 ** i, generator=g) for i, c in enumerate(widths)]
    with torch.no_grad():
        want = _official_segformer_head(state, feats)
        got = head(feats)
    assert got.shape == (2, k, 32, 32) and torch.allclose(got, want, atol=1e-5)
    plain = MODELS.build(dict(type='SegformerHead', in_channels=widths, in_index=[0, 1, 2, 3], channels=ch,
                              num_classes=k, norm_cfg=dict(type='BN'))).eval()
    missing = plain.load_state_dict({n[len('decode_head.'):]: v for n, v in converted.items()
                                     if n.startswith('decode_head.')}, strict=False).missing_keys
    assert any('convs.0.bn' in m for m in missing)  # mmseg's layout has per-level norms the official one lacks


CR_KEYS = json.load(open(osp.join(ROOT, 'tests/fixtures/official_keys/clims_camready.json')))['keys']
CR_CFG = 'configs/clims/clims-camready_r50-d16_1xb16-6.6k_voc12aug-512x512.py'


def _official_camready_cams(state: dict, x: torch.Tensor) -> torch.Tensor:
    """The camera-ready CLIMS inference (``previous_version``: ``CLIMS.forward(x, inference=True)[:, 1:]`` then
    ReLU, as inference_cam.py), written from reading models/clip_resnet.py and models/resnet.py: a
    torchvision-named ResNet-50 with strides (1, 2, 2, 1) for layer1-4 (the stride on each bottleneck's 3x3
    conv), then a bottleneck whose activations are LeakyReLU(0.01) with an identity shortcut, then a 1x1
    classifier without bias whose channel 0 is the background."""
    net = torchvision.models.resnet50(weights=None)
    net.layer4[0].conv2.stride = (1, 1)
    net.layer4[0].downsample[0].stride = (1, 1)
    missing, unexpected = net.load_state_dict({k: v for k, v in state.items() if not k.startswith('cam_head.')},
                                              strict=False)
    assert set(missing) == {'fc.weight', 'fc.bias'} and not unexpected
    net.eval()
    f = net.layer4(net.layer3(net.layer2(net.layer1(net.maxpool(net.relu(net.bn1(net.conv1(x))))))))

    def bn(t, p):
        return F.batch_norm(t, state[p + 'running_mean'], state[p + 'running_var'], state[p + 'weight'],
                            state[p + 'bias'], False, 0.0, 1e-5)

    h = 'cam_head.0.'
    y = F.leaky_relu(bn(F.conv2d(f, state[h + 'conv1.weight']), h + 'bn1.'), 0.01)
    y = F.leaky_relu(bn(F.conv2d(y, state[h + 'conv2.weight'], padding=1), h + 'bn2.'), 0.01)
    y = F.leaky_relu(bn(F.conv2d(y, state[h + 'conv3.weight']), h + 'bn3.') + f, 0.01)
    return F.relu(F.conv2d(y, state['cam_head.1.weight'])[:, 1:])


def test_clims_camera_ready_converts_loads_strict_and_matches_the_official_forward(tmp_path):
    """The camera-ready CLIMS layout (key list generated from previous_version's classes) converts through
    clims2mmseg.py (recognised by its keys), loads strict=True into the camera-ready config, and the converted
    network's inference CAMs equal a transcription of the official inference; the background channel is in no
    CAM."""
    g = torch.Generator().manual_seed(11)
    state = {key: random_tensor(key, shape, g) for key, shape in CR_KEYS.items()}
    src, dst = tmp_path / 'clims_voc12.pth', tmp_path / 'clims_camready_mmseg.pth'
    torch.save(state, src)
    res = run_tool('tools/model_converters/clims2mmseg.py', str(src), str(dst))
    n = len(CR_KEYS)
    assert f'{n} keys -> {n} tensors (camera-ready: BottleneckCAMHead, with a background channel), 20 classes' \
        in res.stdout
    ckpt = torch.load(dst, map_location='cpu', weights_only=False)
    assert ckpt['meta']['cam_head'] == 'BottleneckCAMHead' and len(ckpt['meta']['dataset_meta']['classes']) == 21
    model = _build(CR_CFG)
    model.load_state_dict(ckpt['state_dict'], strict=True)
    assert model.data_preprocessor.mean.flatten().tolist() == pytest.approx([122.771, 116.746, 104.094])
    x = torch.randn(2, 3, 64, 80, generator=g)
    with torch.no_grad():
        want = _official_camready_cams(state, x)
        out = model.cam_head(model.backbone(x))
        got = model.cam_head.inference_cams(out)
    assert want.shape == got.shape == (2, 20, 4, 5) and want.abs().max() > 0.1
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-5)
    assert out['bg_logits'].shape == (2, 1, 4, 5)
    tool = load_tool('tools/model_converters/clims2mmseg.py')
    with pytest.raises(ValueError, match="unexpected key 'cam_head.2.weight'"):
        tool.convert_clims_camready(dict(state, **{'cam_head.2.weight': torch.zeros(1)}))
