"""tools/test.py's evaluation protocol: what it records for plain, --tta, --crf and slide tests."""
import copy
import os.path as osp

from mmengine.config import Config
from mmseg.registry import MODELS

from mmseg_wsss.apis.protocol import describe_protocol, evaluation_protocol
from mmseg_wsss.utils.crf import crf_from_probs
from tests.conftest import ROOT, TOY_CAM_CFG, load_tool
from tests.test_configs.test_configs import _without_downloads

DALNET_TOY = osp.join(ROOT, 'configs/toy/dalnet_toy-clip_1xb8-2k_toy-112x112.py')


def _protocol(*argv):
    tool = load_tool('tools/test.py')
    cfg = tool.build_cfg(tool.parse_args(list(argv)))
    model = MODELS.build(_without_downloads(copy.deepcopy(cfg.model)))
    return evaluation_protocol(model, cfg)


def test_plain_test_is_raw_cams_without_tta_or_crf():
    p = _protocol(TOY_CAM_CFG, 'ck.pth')
    assert p['source'] == 'cam' and p['inference'] == 'whole' and p['tta'] is None and p['crf'] is None
    assert p['split'] == 'ImageSets/Segmentation/train.txt' and p['metrics'] == ['IoUMetric', 'CAMMetric']
    bg_thr = Config.fromfile(TOY_CAM_CFG).model.test_cfg.bg_thr
    assert p['cam'] == dict(scales=[1.0], flip=False, bg_thr=bg_thr, classes='image labels')
    assert 'no TTA' in describe_protocol(p) and 'no CRF' in describe_protocol(p)


def test_tta_and_crf_record_scales_merge_and_every_crf_parameter():
    p = _protocol(DALNET_TOY, 'ck.pth', '--tta', '--crf')
    assert p['source'] == 'decoder'
    scales = [t['scale_factor'] for t in Config.fromfile(DALNET_TOY).tta_pipeline[1]['transforms'][0]]
    assert len(scales) == 3 and p['tta']['scales'] == scales and p['tta']['flip'] and p['tta']['merge'] == 'max'
    # the config's own CRF (its bilateral range for 128 px images) over crf_from_probs' defaults
    assert p['crf'] == dict(n_iters=10, pos_sxy=1, pos_compat=1, bi_sxy=30, bi_srgb=5, bi_compat=4, classes='all')
    assert set(p['crf']) >= {k for k in crf_from_probs.__code__.co_varnames[2:crf_from_probs.__code__.co_argcount]}
    line = describe_protocol(p)
    assert f'TTA scales {scales} x flip, merged by max' in line and 'dense CRF (n_iters=10' in line
    # --crf alone: one view, the CRF with the same parameters; --tta alone: no CRF
    one = _protocol(DALNET_TOY, 'ck.pth', '--crf')
    assert one['crf'] == p['crf'] and not one['tta']['flip'] and one['tta']['scales'] == [1.0]
    assert _protocol(DALNET_TOY, 'ck.pth', '--tta')['crf'] is None


def test_slide_inference_is_recorded():
    p = _protocol(TOY_CAM_CFG, 'ck.pth', '--cfg-options', 'model.test_cfg.mode=slide',
                  'model.test_cfg.crop_size=[32,32]', 'model.test_cfg.stride=[16,16]')
    assert p['inference'] == 'slide (crop (32, 32), stride (16, 16))'


def test_a_plain_mmseg_segmentor_is_described_too():
    """The retraining configs' DeepLabV3+ (mmseg's EncoderDecoder, no CAM head)."""
    p = _protocol(osp.join(ROOT, 'configs/toy/deeplabv3plus_r18-tiny-d8_1xb8-1k_toy-pseudo-112x112.py'), 'ck.pth',
                  '--tta')
    assert p['source'] == 'decoder' and 'cam' not in p and p['tta']['merge'] == 'mean' and p['crf'] is None


def test_tta_scales_and_merge_from_the_command_line():
    """AFA's / ECA's official inference in one command: scales 1.0 / 0.75 / 1.25 x flip, max merge, no CRF
    (--tta-scales / --tta-merge imply --tta)."""
    p = _protocol(TOY_CAM_CFG, 'ck.pth', '--tta-scales', '1', '0.75', '1.25', '--tta-merge', 'max')
    assert p['tta'] == dict(scales=[1.0, 0.75, 1.25], flip=True, merge='max', cams_merge='mean')
    assert p['crf'] is None
    assert _protocol(TOY_CAM_CFG, 'ck.pth', '--tta-merge', 'max')['tta']['scales'] == \
        _protocol(TOY_CAM_CFG, 'ck.pth', '--tta')['tta']['scales']  # the config's scales kept


def test_weakclip_pseudo_mask_protocol_is_in_its_configs():
    """WeakCLIP's official pseudo-mask protocol (facts/weakclip.md): short side 512 x 0.5-1.75 with flips,
    probabilities averaged, and the dataset's CRF parameters."""
    from mmseg_wsss.apis.protocol import tta_views
    for name, crf in (('weakclip_vit-b16_8xb2-20k_voc12aug-512x512.py',
                       dict(pos_sxy=3, pos_compat=3, bi_sxy=83, bi_srgb=5, bi_compat=3)),
                      ('weakclip_vit-b16_4xb6-40k_coco14-512x512.py',
                       dict(pos_sxy=1, pos_compat=3, bi_sxy=67, bi_srgb=3, bi_compat=4))):
        cfg = Config.fromfile(osp.join(ROOT, 'configs/weakclip', name))
        views = tta_views(cfg.tta_pipeline)
        assert views['flip'] and [s[1] for s in views['scales']] == [256, 384, 512, 640, 768, 896]
        assert cfg.get('tta_model', {}).get('view_merge', 'mean') == 'mean'
        assert cfg.pseudo_label_crf == crf


def test_tta_scales_are_ratios_of_the_test_resize_when_the_config_has_one():
    """WeakCLIP's views are sizes relative to its test resize (short side 512): --tta-scales keeps that meaning
    (mmseg 0.x's img_ratios), so --tta-scales 1.0 is the config's 512 view, not the raw image."""
    from argparse import Namespace

    from mmseg_wsss.apis.cli import tta_pipeline
    cfg = Config.fromfile(osp.join(ROOT, 'configs/weakclip/weakclip_vit-b16_8xb2-20k_voc12aug-512x512.py'))
    args = Namespace(tta=False, tta_scales=[1.0, 0.5], tta_merge=None)
    views = tta_pipeline(cfg, args)[1]['transforms'][0]
    assert args.tta and views == [dict(type='Resize', scale=(2048, 512), keep_ratio=True),
                                  dict(type='Resize', scale=(1024, 256), keep_ratio=True)]
    assert tta_pipeline(cfg, Namespace(tta=False, tta_scales=None, tta_merge=None)) is None  # nothing asked
