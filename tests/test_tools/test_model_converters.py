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


def _random_official(num_classes: int, seed: int = 0) -> dict:
    """A state dict of IRNet's layout with random tensors; every alias is the same tensor as the key it repeats
    (as ``state_dict()`` of the official Net returns them)."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, (shape, alias_of) in IRN_KEYS['layout'].items():
        if key == 'classifier.weight' or alias_of == 'classifier.weight':
            shape = [num_classes, 2048, 1, 1]
        if alias_of is not None:
            state[key] = state[alias_of]
        elif key.endswith('num_batches_tracked'):
            state[key] = torch.zeros((), dtype=torch.long)
        elif key.endswith('running_var'):
            state[key] = 0.5 + torch.rand(shape, generator=g)
        elif key.endswith(('running_mean', '.bias')):
            state[key] = 0.1 * torch.randn(shape, generator=g)
        elif len(shape) == 1:  # BN weight
            state[key] = 1 + 0.1 * torch.randn(shape, generator=g)
        else:  # conv weights, fan-in scaled so that 16 bottlenecks stay finite
            fan_in = int(torch.tensor(shape[1:]).prod())
            state[key] = torch.randn(shape, generator=g) * (1.0 / fan_in) ** 0.5
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
