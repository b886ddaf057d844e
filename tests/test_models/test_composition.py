"""Parts of different papers joined in one config: declared map kinds, their conversions, and the joins that
must fail at build time with one line naming both parts."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmseg_wsss.models.maps import MAP_KINDS, MapRequest, check_join, conversion, convert_map
from mmseg_wsss.models.pseudo_labels.carm_pseudo_label import seeds_from_labels
from mmseg_wsss.models.segmentors.wsss_segmentor import is_loss_key
from mmseg_wsss.utils.cam_ops import max_normalize
from tests.conftest import ROOT

AFA_TOY = f'{ROOT}/configs/toy/afa_mit-tiny_1xb8-2k_toy-112x112.py'
CLIMS_TINY = f'{ROOT}/configs/toy/clims_r18-tiny-d8_clip-tiny_1xb8-1k_toy-112x112.py'
WEAKCLIP_TOY = f'{ROOT}/configs/toy/weakclip_toy-clip_1xb8-1k_toy-112x112.py'


def test_conversion_table():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 4)
    assert torch.equal(convert_map(x, 'logits', 'sigmoid'), x.sigmoid())
    assert torch.equal(convert_map(x, 'logits', 'relu'), F.relu(x))
    assert torch.allclose(convert_map(F.relu(x), 'relu', 'normalized'), max_normalize(x))
    cos = torch.rand(2, 4, 5, 4) * 2 - 1
    assert torch.allclose(convert_map(cos, 'cosine_bg', 'normalized'), max_normalize(cos[:, 1:]))
    norm = convert_map(x, 'logits', 'normalized')
    assert norm.min() >= 0 and torch.allclose(norm.flatten(2).max(-1)[0], torch.ones(2, 3), atol=1e-4)
    for src in MAP_KINDS:
        assert conversion(src, src) == 'identity'
    with pytest.raises(ValueError, match='negative logits'):
        convert_map(F.relu(x), 'relu', 'sigmoid')


def test_check_join_messages():
    producers = {'cams': ('relu', 'cam_head (CAMHead)'), 'cam_logits': ('logits', 'cam_head (CAMHead)')}
    assert check_join('losses.x (X)', MapRequest('cam_logits', ('sigmoid', )), producers) == 'sigmoid'
    with pytest.raises(ValueError) as err:
        check_join('losses.x (X)', MapRequest('cams', ('sigmoid', ), 'cams'), producers)
    msg = str(err.value)
    assert 'losses.x (X)' in msg and 'cam_head (CAMHead)' in msg and "['cam_logits']" in msg and '\n' not in msg
    with pytest.raises(KeyError, match="no part of the model makes"):
        check_join('losses.x (X)', MapRequest('score_map', ('cosine', )), producers)
    with pytest.raises(ValueError, match='asks for map kind'):
        check_join('losses.x (X)', MapRequest('cams', ('probability', )), producers)


def _build(cfg):
    init_default_scope('mmseg')
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def clims_on_afa(**clims):
    """AFA's toy MiT network (CAMHead: ReLU CAMs) plus CLIMS's evaluator loss, from configs only."""
    cfg = Config.fromfile(AFA_TOY)
    tiny = Config.fromfile(CLIMS_TINY).model
    model = copy.deepcopy(cfg.model)
    model.backbone.init_cfg = None  # mechanics: no toy teachers needed
    model.encoders = copy.deepcopy(tiny.encoders)
    model.losses.clims = dict(copy.deepcopy(tiny.losses.clims), **clims)
    return model


def batch(n=2, size=112, seeds=False, num_classes=6):
    torch.manual_seed(0)
    x = torch.randn(n, 3, size, size)
    samples = []
    for i in range(n):
        s = SegDataSample(metainfo=dict(img_labels=[1 + i % 5, 1 + (i + 2) % 5], img_shape=(size, size),
                                        pad_shape=(size, size)))
        if seeds:
            lab = torch.randint(0, num_classes, (1, size, size))
            lab[:, :10] = 255
            s.gt_sem_seg = PixelData(data=lab)
        samples.append(s)
    return x, samples


def test_clims_on_afa_relu_cams_fail_at_build_with_the_fix():
    with pytest.raises(ValueError) as err:
        _build(clims_on_afa())
    msg = str(err.value)
    assert 'losses.clims (CLIMSLoss)' in msg and 'cam_head (CAMHead)' in msg and 'relu' in msg
    assert 'cam_logits' in msg and '\n' not in msg


@pytest.mark.parametrize('clims, kind', [(dict(cams='cam_logits'), 'sigmoid'),
                                         (dict(cams_as='normalized'), 'normalized')])
def test_clims_on_afa_converted_as_declared(clims, kind):
    torch.manual_seed(0)
    model = _build(clims_on_afa(**clims))
    model.train()
    x, samples = batch()
    MessageHub.get_current_instance().update_info('iter', 10_000)  # every AFA term on, too
    ctx = model.build_context(x, samples)
    mask = ctx.map(model.loss_terms['clims'].cams, model.loss_terms['clims'].cams_as)
    assert mask.min() >= 0 and mask.max() <= 1
    logits = ctx.cam_outputs['cam_logits']
    want = logits.sigmoid() if kind == 'sigmoid' else max_normalize(logits)
    assert torch.allclose(mask, want, atol=1e-6)
    losses = model.loss(x, samples)
    for key in ('clims.loss_otm', 'clims.loss_btm', 'clims.loss_reg', 'cls.loss', 'seg.loss_ce'):
        assert torch.isfinite(losses[key]), key
    # the CLIP loss reaches AFA's MiT through the CAM head (BTM: with random towers s_oo < 0 clamps OTM flat)
    losses['clims.loss_btm'].backward()
    assert model.backbone.layers[-1][0].projection.weight.grad.abs().sum() > 0
    # AFA's own CAMs and CAM labels are those of AFA alone (the CAM head is untouched by the join)
    torch.manual_seed(0)
    plain_cfg = clims_on_afa(**clims)
    del plain_cfg.losses['clims'], plain_cfg['encoders']
    plain = _build(plain_cfg)
    plain.load_state_dict(model.state_dict(), strict=False)
    plain.train()
    pctx = plain.build_context(x, samples)
    assert torch.equal(pctx.cams, ctx.cams)
    assert torch.equal(pctx.pseudo_label('cam'), ctx.pseudo_label('cam'))


def weakclip_with_carm(seeds):
    """WeakCLIP's toy network (random toy-clip towers) + ECA's CARM, seeded by the map ``seeds``."""
    cfg = Config.fromfile(WEAKCLIP_TOY)
    model = copy.deepcopy(cfg.model)
    model.backbone.pretrained = None
    model.encoders.text.pretrained = None
    model.encoders.dino = dict(type='DINOViTEncoder', arch='toy-dino', checkpoint=None)
    model.pseudo_labels.carm = dict(type='CARMPseudoLabel', encoder='dino', seeds=seeds, scales=(1.0, ),
                                    gamma=0.75, memory=None, refine=dict(type='PAR', dilations=(1, 2)))
    model.losses.seg_carm = dict(type='DecodeLoss', labels='carm', weight=0.1)
    return model


def test_carm_seeded_from_weakclip_score_map():
    model = _build(weakclip_with_carm('score_map'))
    model.train()
    x, samples = batch(seeds=True)
    ctx = model.build_context(x, samples)
    score = ctx.extras['score_map']
    assert score.shape[1] == 6  # background + 5 classes: kind cosine_bg
    seeds = ctx.map('score_map', ('normalized', 'labels'))
    assert torch.allclose(seeds, max_normalize(score[:, 1:]))
    carm = ctx.pseudo_label('carm')
    assert carm.shape == (2, 112, 112)
    for b, s in enumerate(samples):
        assert set(carm[b].unique().tolist()) <= {0, *s.metainfo['img_labels']}
    losses = model.loss(x, samples)
    assert torch.isfinite(losses['seg_carm.loss_ce'])


def test_carm_seeded_from_a_seed_folder_takes_the_labels_as_seeds():
    model = _build(weakclip_with_carm('seeds'))
    x, samples = batch(seeds=True)
    ctx = model.build_context(x, samples)
    assert ctx.map_kind('seeds', ('normalized', 'labels')) == 'labels'
    assert ctx.pseudo_label('carm').shape == (2, 112, 112)
    # the seeds are the labels, nearest-resized, restricted to background and the image's classes
    labels = ctx.pseudo_label('seeds')
    present = ctx.img_labels
    q = seeds_from_labels(labels, (14, 14), present)
    small = F.interpolate(labels[:, None].float(), size=(14, 14), mode='nearest')[:, 0].long().flatten(1)
    for b in range(2):
        for c in range(6):
            allowed = c == 0 or present[b, c - 1] > 0
            assert torch.equal(q[b, c], (small[b] == c) & allowed)
    assert not q[0][:, small[0] == 255].any()


def test_carm_seeded_from_a_sigmoid_head_needs_logits():
    """CLIMS's sigmoid CAM head under ECA's CAM and CARM sources: max-normalised sigmoid maps saturate, so both
    joins fail at build time naming the logits map, which converts (ReLU + max-normalisation)."""
    cfg = Config.fromfile(f'{ROOT}/configs/toy/eca_mit-tiny_toy-dino_1xb8-2k_toy-112x112.py')
    model = copy.deepcopy(cfg.model)
    model.backbone.init_cfg = None
    model.encoders.dino.checkpoint = None
    model.cam_head = dict(type='SigmoidCAMHead', in_channels=64, num_classes=5)
    msg = _build_error(model, carm_seeds='cam')
    assert 'pseudo_labels.cam (CAMPseudoLabel)' in msg and 'SigmoidCAMHead' in msg and "'cam_logits'" in msg
    model.pseudo_labels.cam.cams = 'cam_logits'
    msg = _build_error(model, carm_seeds='cams')
    assert 'pseudo_labels.carm (CARMPseudoLabel)' in msg and 'SigmoidCAMHead' in msg and 'saturates' in msg
    x, samples = batch()
    for seeds in ('cam', 'cam_logits'):
        model.pseudo_labels.carm.seeds = seeds
        built = _build(copy.deepcopy(model))
        ctx = built.build_context(x, samples)
        assert ctx.pseudo_label('carm').shape == (2, 112, 112)


def _build_error(model, carm_seeds):
    model = copy.deepcopy(model)
    model.pseudo_labels.carm.seeds = carm_seeds
    with pytest.raises(ValueError) as err:
        _build(model)
    return str(err.value)


def test_logged_keys_are_never_summed():
    """mmseg's rule: only ``loss`` / ``loss_*`` keys are weighted and summed; a logged ``seed_loss_ratio`` is
    not (mmengine's own rule would sum every key containing 'loss')."""
    assert is_loss_key('cls.loss') and is_loss_key('clims.loss_otm') and is_loss_key('loss_anchor')
    assert not is_loss_key('seed.seed_loss_ratio') and not is_loss_key('clims.s_oo') and not is_loss_key('lossy')
    model = _build(clims_on_afa(cams='cam_logits'))
    losses = {'a.loss': torch.tensor(1.0), 'a.seed_loss_ratio': torch.tensor(5.0), 'b.loss_x': torch.tensor(2.0),
              'b.acc_seg': torch.tensor(50.0)}
    total, log = model.parse_losses(losses)
    assert float(total) == 3.0 and float(log['loss']) == 3.0 and float(log['a.seed_loss_ratio']) == 5.0


def test_every_shipped_term_and_source_uses_the_base_classes():
    """The loss terms and pseudo-label sources the package registers all state the one protocol (parts.py)."""
    from mmseg_wsss.models import loss_terms, pseudo_labels
    from mmseg_wsss.models.parts import BaseLossTerm, BasePseudoLabelSource
    assert len(loss_terms.__all__) >= 8 and len(pseudo_labels.__all__) >= 3
    for name in loss_terms.__all__:
        assert issubclass(getattr(loss_terms, name), BaseLossTerm), name
    for name in pseudo_labels.__all__:
        assert issubclass(getattr(pseudo_labels, name), BasePseudoLabelSource), name


def test_score_map_loss_reads_the_declared_map():
    """WeakCLIP's auxiliary score-map CE reads the neck's declared ``score_map`` (cosine_bg) by name: on
    WeakCLIP it trains; joined to AFA's network, which makes no such map, the build fails naming the term."""
    model = weakclip_with_carm('score_map')
    model.losses.aux = dict(type='ScoreMapLoss', labels='seeds', tau=0.07, weight=0.4)
    built = _build(model)
    built.train()
    x, samples = batch(seeds=True)
    losses = built.loss(x, samples)
    assert torch.isfinite(losses['aux.loss']) and losses['aux.loss'] > 0
    afa = copy.deepcopy(Config.fromfile(AFA_TOY).model)
    afa.backbone.init_cfg = None
    afa.losses.aux = dict(type='ScoreMapLoss', labels='cam', weight=0.4)
    with pytest.raises(KeyError) as err:
        _build(afa)
    assert 'losses.aux (ScoreMapLoss)' in str(err.value) and 'score_map' in str(err.value)
