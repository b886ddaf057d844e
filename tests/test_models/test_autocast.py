"""Mixed precision on the CPU: one training step of every toy model under torch.autocast('cpu', bfloat16), the
CPU's counterpart of `tools/train.py --amp` (CUDA float16; tests/test_tools/test_end_to_end.py runs that where a
GPU is present): every loss finite, every gradient finite, and the parameters stay float32."""
import pytest
import torch
from mmengine.dataset import pseudo_collate

from mmseg_wsss.models.segmentors.wsss_segmentor import is_loss_key
from tests.test_models.test_nan_safety import MODELS_WITH_TERMS, loss_with_every_term_on, toy_model_and_dataset


@pytest.mark.parametrize('key', list(MODELS_WITH_TERMS))
def test_one_bf16_autocast_training_step(key, toy_root):
    torch.manual_seed(0)
    cfg, model, ds = toy_model_and_dataset(key, toy_root)
    data = model.data_preprocessor(pseudo_collate([ds[0], ds[1]]), True)
    dtypes = []
    first = next(m for m in model.backbone.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))
    first.register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = loss_with_every_term_on(cfg, model, data)
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
