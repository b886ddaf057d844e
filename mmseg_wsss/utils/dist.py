"""Distributed training on machines without CUDA (gloo), for tools/dist_train.sh on CPU."""
import os

import torch
import torch.distributed as torch_dist
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS  # the runner looks wrappers up in the root registry


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that drops ``device_ids`` for CPU modules.

    mmengine always passes ``device_ids=[LOCAL_RANK]``, which torch's DDP rejects for CPU modules.
    """

    def __init__(self, module, device_ids=None, **kwargs):
        if not next(module.parameters()).is_cuda:
            device_ids = None
        super().__init__(module=module, device_ids=device_ids, **kwargs)


def setup_cpu_distributed(cfg, launcher: str) -> None:
    """When launched with ``--launcher pytorch`` on a machine without CUDA, use gloo.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device`` and defaults to nccl; we initialise the gloo process
    group first (the runner then skips its own init) and wrap the model with :class:`CPUDistributedDataParallel`.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise RuntimeError(f'launcher {launcher!r} needs CUDA; on a CPU machine use --launcher pytorch (torchrun)')
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(
            backend='gloo', rank=int(os.environ['RANK']), world_size=int(os.environ['WORLD_SIZE']))
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'CPUDistributedDataParallel')
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
