"""Mixed precision on the CPU: one training step of every toy model under torch.autocast('cpu', bfloat16), the
CPU's counterpart of `tools/train.py --amp` (CUDA float16; tests/test_tools/test_end_to_end.py runs that where a
GPU is present): every loss finite, every gradient finite, and the parameters stay float32."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.logging import MessageHub
from mmengine.model import revert_sync_batchnorm
from mmseg.registry import DATASETS, MODELS

from mmseg_wsss.models.segmentors.wsss_segmentor import is_loss_key
from tests.test_configs.test_configs import _without_downloads
from tests.test_models.test_nan_safety import MODELS_WITH_TERMS, _build


@pytest.mark.parametrize('key', list(MODELS_WITH_TERMS))
def test_one_bf16_autocast_training_step(key, toy_root):
    cfg = _build(key)
    torch.manual_seed(0)
    model = revert_sync_batchnorm(MODELS.build(_without_downloads(copy.deepcopy(cfg.model))))
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.data_root = toy_root
    if ds_cfg.get('pseudo_label_dir'):
        ds_cfg.pseudo_label_dir = osp.join(toy_root, ds_cfg.data_prefix.seg_map_path)
    ds = DATASETS.build(ds_cfg)
    data = model.data_preprocessor(pseudo_collate([ds[0], ds[1]]), True)
    dtypes = []
    first = next(m for m in model.backbone.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))
    first.register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
    model.train()
    starts = [t.get('start_iter', 0) for t in (cfg.model.get('losses') or {}).values() if t is not None]
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', max(starts, default=0))
    try:
        with torch.autocast('cpu', dtype=torch.bfloat16):
            losses = model.loss(data['inputs'], data['data_samples'])
    finally:
        hub.update_info('iter', 0)
    assert dtypes and dtypes[0] == torch.bfloat16  # the backbone's first layer did run in bfloat16
    total = sum(v.float() for k, v in losses.items() if is_loss_key(k))
    for k, v in losses.items():
        if is_loss_key(k):
            assert torch.isfinite(v).all(), f'{key}: {k} = {v}'
    total.backward()
    grads = [(n, p) for n, p in model.named_parameters() if p.grad is not None]
    assert grads, 'no parameter got a gradient'
    for n, p in grads:
        assert p.dtype == torch.float32 and torch.isfinite(p.grad).all(), n
