"""projects/: every project config builds its model (without downloads) and computes its losses; the toy ones
train two steps through tools/train.py from the repository root; the example project's loss term against a
transcription of its equation, for gradients, and at a join that cannot work."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings
from mmseg.registry import MODELS

from mmseg_wsss.apis import without_pretrained_weights
from tests.conftest import missing_toy_teachers, ROOT, run_tool, toy_options

PROJECT_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'projects', '*', 'configs', '*.py')))
ABLATION_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'projects', '*', 'configs', 'ablations', '*.py')))


def _load(path: str) -> Config:
    cfg = Config.fromfile(path)
    assert cfg.custom_imports['imports'][0] == 'mmseg_wsss' and not cfg.custom_imports['allow_failed_imports']
    import_modules_from_strings(**cfg.custom_imports)
    init_default_scope('mmseg')
    return cfg


def _samples(size: int):
    """Two samples of a ``size`` x ``size`` batch, with image labels [1, 3] and [2] and an all-zero mask."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for labels in ([1, 3], [2]):
        s = SegDataSample(metainfo=dict(img_shape=(size, size), pad_shape=(size, size), ori_shape=(size, size),
                                        padding_size=[0, 0, 0, 0], img_labels=labels))
        s.gt_sem_seg = PixelData(data=torch.zeros(1, size, size, dtype=torch.long))
        samples.append(s)
    return samples


def test_every_project_has_configs_and_a_readme():
    projects = sorted(glob.glob(osp.join(ROOT, 'projects', '*', '')))
    assert projects and PROJECT_CONFIGS
    for p in projects:
        readme = open(osp.join(p, 'README.md')).read()
        for section in ('## Description', '## Usage', '## Results', '## Citation', '## Checklist'):
            assert section in readme, (p, section)
        assert glob.glob(osp.join(p, 'configs', '*.py')), p


@pytest.mark.parametrize('path', PROJECT_CONFIGS + ABLATION_CONFIGS,
                         ids=[osp.relpath(p, ROOT) for p in PROJECT_CONFIGS + ABLATION_CONFIGS])
def test_project_config_builds_and_computes_its_losses(path):
    """Every project config builds (the real ones with random weights of their architectures); the toy ones also
    compute every loss term at the iteration where all are on (the real ones' losses, at paper size, cost up to
    two minutes on these CPUs: ECA + CLIMS on COCO; their parts are the toy ones' parts)."""
    cfg = _load(path)
    model = revert_sync_batchnorm(MODELS.build(without_pretrained_weights(cfg.model))).train()
    if '_toy-' not in osp.basename(path):
        assert set(model.loss_terms) == {k for k, v in cfg.model.losses.items() if v is not None}
        return
    x, samples = torch.randn(2, 3, 64, 64), _samples(64)
    from mmengine.logging import MessageHub
    hub = MessageHub.get_current_instance()  # at the iteration where every term is on
    hub.update_info('iter', max([t.get('start_iter', 0) for t in cfg.model.losses.values() if t], default=0))
    try:
        losses = model.loss(x, samples)
    finally:
        hub.update_info('iter', 0)
    for name, term in cfg.model.losses.items():
        assert term is None or any(k.startswith(f'{name}.') for k in losses), name
    total = sum(v for k, v in losses.items() if k.rsplit('.', 1)[-1].startswith('loss'))
    assert torch.isfinite(total)
    total.backward()


@pytest.mark.parametrize('path', [p for p in PROJECT_CONFIGS if '_toy-' in osp.basename(p)],
                         ids=lambda p: osp.relpath(p, ROOT))
def test_toy_project_config_trains_from_the_repository_root(path, toy_root, tmp_path):
    """As a user runs it (``python tools/train.py projects/...`` from the root); a config whose toy teachers are
    not built here (``make toy-teachers`` is not part of the suite) runs with the same architectures at random
    weights, from a dump of the config made that way."""
    rel = osp.relpath(path, ROOT)
    cfg = Config.fromfile(path)
    if missing_toy_teachers(cfg):
        without_pretrained_weights(cfg.model)
        cfg.model.backbone.init_cfg = None
        rel = str(tmp_path / osp.basename(path))
        cfg.dump(rel)
    run_tool('tools/train.py', rel, '--work-dir', str(tmp_path), *toy_options(toy_root, iters=2))
    log = open(glob.glob(str(tmp_path / '*' / '*.log'))[0]).read()
    for name, term in Config.fromfile(path).model.losses.items():  # the terms on from the first iteration
        if term is not None and term.get('start_iter', 0) < 2:
            assert f'{name}.loss' in log, name
    assert osp.isfile(tmp_path / 'iter_2.pth')


# ---------------------------------------------------------------- the example project's term
def _flip_loss():
    from projects.example_project.flip_cam import FlipConsistencyLoss, flip_consistency_loss
    return FlipConsistencyLoss, flip_consistency_loss


def test_flip_consistency_loss_against_its_equation():
    """|| T(A(T(I))) - A(I) ||_1 per pixel, averaged over the image labels' (image, class) pairs: a loop over
    the pairs and pixels; then the gradient."""
    _, loss_fn = _flip_loss()
    g = torch.Generator().manual_seed(0)
    cams = torch.rand(2, 4, 5, 6, generator=g, dtype=torch.float64)
    flipped = torch.rand(2, 4, 5, 6, generator=g, dtype=torch.float64)
    labels = torch.tensor([[1, 0, 1, 0], [0, 0, 0, 1]])
    pairs = []
    for b in range(2):
        for k in range(4):
            if labels[b, k]:
                s = 0.0
                for i in range(5):
                    for j in range(6):
                        s += abs(float(cams[b, k, i, j]) - float(flipped[b, k, i, 5 - j]))
                pairs.append(s / 30)
    assert float(loss_fn(cams, flipped, labels)) == pytest.approx(sum(pairs) / len(pairs))
    every = sum(float((cams[b, k] - flipped[b, k].flip(-1)).abs().mean()) for b in range(2) for k in range(4)) / 8
    assert float(loss_fn(cams, flipped)) == pytest.approx(every)
    assert float(loss_fn(cams, cams.flip(-1), labels)) == 0.0  # equivariant CAMs cost nothing
    cams.requires_grad_(True)
    flipped.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: loss_fn(a, b, labels), (cams, flipped))


def test_flip_consistency_needs_a_cam_head():
    """A model without CAMs (WeakCLIP: a decoder on seeds) cannot take the term: one error at build time naming
    both."""
    cfg = _load(osp.join(ROOT, 'projects/example_project/configs/cam-flip_r18-tiny-d8_1xb8-2k_toy-112x112.py'))
    model_cfg = Config.fromfile(osp.join(ROOT, 'configs/toy/weakclip_toy-clip_1xb8-1k_toy-112x112.py')).model
    model_cfg.losses.flip = cfg.model.losses.flip
    with pytest.raises(KeyError, match=r"losses.flip \(FlipConsistencyLoss\) reads map 'cams'"):
        MODELS.build(without_pretrained_weights(model_cfg))


# ---------------------------------------------------------------- the flagship's joins
FLAGSHIP_TOY = 'projects/clip_dino/configs/clipdino_toy-clip-dense_toy-dino_1xb8-2k_toy-112x112.py'


def test_flagship_parts_read_and_train_what_the_config_says():
    """The frozen CLIP + DINO flagship (toy sizes, random weights): the CAM head reads the frozen tower's
    projected tokens with the `clip_text` prompts, the decoder WeakCLIP's neck with the `text` prompts; only the
    prompts, the classifier, the neck and the decoder train and are saved; DALNet's alignment terms move the
    CAMs' prompts (not the decoder), WeakCLIP's losses on the CARM labels move the decoder and its prompts (not
    the CAMs'); the CAMs at the start are the fixed prompts' patch-text cosines (CoOp's ctx_init)."""
    import torch.nn.functional as F
    from mmengine.logging import MessageHub
    cfg = _load(osp.join(ROOT, FLAGSHIP_TOY))
    torch.manual_seed(0)
    model = revert_sync_batchnorm(MODELS.build(without_pretrained_weights(cfg.model))).train()
    assert model.feats_from == dict(cam_head='backbone', decode_head='neck')
    assert model.text_from == dict(neck='text', cam_head='clip_text')
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {n.split('.')[0] for n in trained} == {'encoders', 'neck', 'cam_head', 'decode_head'}
    assert {n for n in trained if n.startswith('encoders.')} == {
        'encoders.clip_text.ctx', 'encoders.clip_text.background', 'encoders.text.ctx'}
    saved = set(model.state_dict())
    assert not any(k.startswith(('backbone.', 'encoders.dino.')) or '.clip.' in k for k in saved)
    assert trained <= saved
    x, samples = torch.randn(2, 3, 112, 112), _samples(112)
    MessageHub.get_current_instance().update_info('iter', 0)
    ctx = model.build_context(x, samples)
    fixed = model.encoders['clip_text']._encode_texts([f'a photo of a {c}.' for c in
                                                       model.encoders['clip_text'].class_names])
    h, w = ctx.extras['grid']
    cos = F.normalize(ctx.extras['patches'], dim=-1) @ fixed.T
    assert torch.allclose(ctx.cams, cos.relu().transpose(1, 2).reshape(2, 5, h, w), atol=1e-5)
    losses = model.loss(x, samples)
    enc = model.encoders
    for names, moves, still in ((('gia', 'lea', 'cc'), [enc['clip_text'].ctx, enc['clip_text'].background],
                                 [enc['text'].ctx, model.neck.adapter.pre_norms[0].weight]),
                                (('seed', 'boundary'), [enc['text'].ctx, model.neck.adapter.pre_norms[0].weight],
                                 [enc['clip_text'].ctx, enc['clip_text'].background])):
        model.zero_grad()
        sum(losses[f'{n}.loss'] for n in names).backward(retain_graph=True)
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in moves), names
        assert all(p.grad is None or p.grad.abs().sum() == 0 for p in still), names
