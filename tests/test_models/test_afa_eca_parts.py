"""AFA / ECA parts inside the segmentor: CAM pseudo labels with PAR and the band, affinity propagation, CARM,
the correspondence term, the balanced CE."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmseg_wsss.models.segmentors.wsss_segmentor import is_loss_key
from mmseg_wsss.models.losses import bg_fg_balanced_ce
from mmseg_wsss.models.pseudo_labels.cam_pseudo_label import background_softmax, band_labels
from tests.conftest import ROOT

ECA_TOY = f'{ROOT}/configs/toy/eca_mit-tiny_toy-dino_1xb8-2k_toy-112x112.py'


def test_band_labels_and_background_softmax():
    high = torch.tensor([[0, 1, 0, 2]])
    low = torch.tensor([[0, 1, 3, 0]])
    assert band_labels(high, low).tolist() == [[0, 1, 255, 2]]
    scores = torch.rand(2, 4, 3, 3)
    probs = background_softmax(scores, torch.tensor([[1, 0, 1], [0, 0, 0]]))
    assert torch.allclose(probs.sum(1), torch.ones(2, 3, 3))
    assert (probs[0, 2] == 0).all() and (probs[1, 1:] == 0).all() and (probs[1, 0] == 1).all()


def test_balanced_ce_transcription():
    torch.manual_seed(0)
    logits, labels = torch.randn(2, 4, 5, 5), torch.randint(0, 4, (2, 5, 5))
    labels[0, 0] = 255
    ce = F.cross_entropy(logits, labels.clamp(max=3), reduction='none')
    bg, fg = labels == 0, (labels > 0) & (labels != 255)
    want = 0.5 * ce[bg].mean() + 0.5 * ce[fg].mean()
    assert torch.allclose(bg_fg_balanced_ce(logits, labels), want)


def toy_eca(**changes):
    cfg = Config.fromfile(ECA_TOY)
    cfg.merge_from_dict({f'model.{k}': v for k, v in changes.items()})
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.encoders.dino.checkpoint = None  # random toy-dino and toy MiT: mechanics only (no toy teachers)
    model_cfg.backbone.init_cfg = None
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model


def batch(n=2, size=112):
    torch.manual_seed(0)
    x = torch.randn(n, 3, size, size)
    samples = [SegDataSample(metainfo=dict(img_labels=[1 + i % 5, 1 + (i + 2) % 5], img_shape=(size, size),
                                           pad_shape=(size, size))) for i in range(n)]
    return x, samples


def test_eca_toy_model_sources_and_terms():
    model = toy_eca()
    model.train()
    x, samples = batch()
    MessageHub.get_current_instance().update_info('iter', 10_000)  # every term active
    ctx = model.build_context(x, samples)
    cam, carm = ctx.pseudo_label('cam'), ctx.pseudo_label('carm')
    assert cam.shape == carm.shape == (2, 112, 112)
    for lab in (cam, carm):  # only background, the image's classes (and ignore for the CAM band)
        for b, s in enumerate(samples):
            assert set(lab[b].unique().tolist()) <= {0, 255, *s.metainfo['img_labels']}
    assert 255 not in carm.unique()  # no ignore band for the CARM (as the official code)
    bank = model.pseudo_label_sources['carm'].memory.bank.clone()
    losses = model.loss(x, samples)
    assert not torch.equal(bank, model.pseudo_label_sources['carm'].memory.bank)  # prototypes moved in training
    for key in ('cls.loss', 'seg_cam.loss_ce', 'seg_carm.loss_ce', 'corr.loss', 'aff.loss'):
        assert torch.isfinite(losses[key])
    sum(v for k, v in losses.items() if is_loss_key(k)).backward()
    assert model.cam_head.classifier.weight.grad.abs().sum() > 0
    assert model.heads['affinity'].proj.weight.grad.abs().sum() > 0
    # the hook's view (eval mode) does not move the prototypes
    model.eval()
    bank = model.pseudo_label_sources['carm'].memory.bank.clone()
    model.pseudo_labels_for(x, samples)
    assert torch.equal(bank, model.pseudo_label_sources['carm'].memory.bank)
    assert 'encoders.dino.vit.cls_token' not in model.state_dict()  # frozen DINO stays out of checkpoints
    assert 'pseudo_label_sources.carm.memory.bank' in model.state_dict()  # the prototypes are saved


def test_correspondence_term_trains_the_cams_through_local_views():
    model = toy_eca()
    model.train()
    x, samples = batch()
    MessageHub.get_current_instance().update_info('iter', 10_000)
    ctx = model.build_context(x, samples)
    term = model.loss_terms['corr']
    views, labels = term.local_views(ctx.images, ctx.pseudo_label('cam'))
    assert views.shape == (4, 3, 56, 56) and labels.shape == (4, 14, 14)
    out = term(ctx, labels=ctx.pseudo_label('cam'))
    out['loss'].backward()
    assert model.cam_head.classifier.weight.grad.abs().sum() > 0
    code = toy_eca(**{'losses.corr.form': 'code'}).loss_terms['corr']
    assert torch.isfinite(code(ctx, labels=ctx.pseudo_label('cam'))['loss'])


@pytest.mark.parametrize('changes', [
    {'pseudo_labels.carm.seed_bg': 0.45, 'pseudo_labels.carm.seed_count': 'code',
     'pseudo_labels.carm.classes': 'cam_label', 'pseudo_labels.carm.fg_mode': 'binary',
     'pseudo_labels.carm.calib_power': 1.5, 'pseudo_labels.carm.calib_renorm': False,
     'pseudo_labels.carm.calib_min_classes': 2, 'pseudo_labels.carm.calib_norm_similarity': True,
     'pseudo_labels.carm.proto_update': 'top', 'pseudo_labels.carm.bg_clip': (0.1, 0.6)},
    {'pseudo_labels.cam.affinity': 'affinity', 'pseudo_labels.cam.affinity_start_iter': 0},
], ids=['carm-code-options', 'afa-affinity-propagation'])
def test_code_options_run(changes):
    model = toy_eca(**changes)
    model.train()
    x, samples = batch()
    MessageHub.get_current_instance().update_info('iter', 10_000)
    ctx = model.build_context(x, samples)
    for name in ('cam', 'carm'):
        lab = ctx.pseudo_label(name)
        assert lab.shape == (2, 112, 112)
