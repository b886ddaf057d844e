"""The training-time monitoring hooks: which dataloader they read when the config switches validation off."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmseg_wsss.engine.hooks.cam_visualization_hook import CAMVisualizationHook
from mmseg_wsss.engine.hooks.pseudo_label_quality_hook import PseudoLabelQualityHook
from tests.conftest import TOY_CAM_CFG, run_tool, toy_options


def test_a_named_loader_that_is_none_falls_back_or_says_which_key_to_set():
    val, train_eval = dict(dataset=dict(type='V')), dict(dataset=dict(type='T'))
    hook = CAMVisualizationHook(dataloader='val_dataloader')
    assert hook.loader_cfg(Config(dict(val_dataloader=val, train_eval_dataloader=train_eval))) == val
    # validation off (mmengine: val_dataloader = None), or no such key: the first fallback the config has
    assert hook.loader_cfg(Config(dict(val_dataloader=None, train_eval_dataloader=train_eval))) == train_eval
    assert hook.loader_cfg(Config(dict(test_dataloader=val))) == val
    quality = PseudoLabelQualityHook(dataloader='train_eval_dataloader')
    assert quality.loader_cfg(Config(dict(train_eval_dataloader=None, val_dataloader=val))) == val
    with pytest.raises(KeyError, match="CAMVisualizationHook: val_dataloader is None in the config .* set the "
                                       "hook's dataloader="):
        hook.loader_cfg(Config(dict(val_dataloader=None, test_dataloader=None)))
    given = dict(dataset=dict(type='G'))  # a dataloader config given to the hook is used as it is
    assert CAMVisualizationHook(dataloader=given).loader_cfg(Config(dict())) == given


def test_toy_cam_config_trains_with_validation_switched_off(toy_root, tmp_path):
    """The toy CAM config with mmengine's three validation keys set to None: its CAMVisualizationHook (which
    reads val_dataloader) falls back to train_eval_dataloader, and both hooks still log at the last iteration."""
    work = str(tmp_path / 'noval')
    res = run_tool('tools/train.py', TOY_CAM_CFG, '--work-dir', work,
                   *toy_options(toy_root, iters=2, extra=['val_dataloader=None', 'val_cfg=None',
                                                          'val_evaluator=None', 'custom_hooks.1.num_images=4']))
    out = res.stdout + res.stderr
    assert 'TypeError' not in out and osp.isfile(osp.join(work, 'iter_2.pth'))
    assert 'CAMVisualizationHook: val_dataloader is None in the config; reading train_eval_dataloader' in out
    log = open(glob.glob(osp.join(work, '*', '*.log'))[0]).read()
    assert "pseudo labels 'cam' at iter 2" in log and 'Iter(val)' not in log  # no validation ran
    assert glob.glob(osp.join(work, '*', 'vis_data', 'vis_image', 'cam_overlays_2.png'))
