"""The one config loader of the tools: mmengine's ``Config.fromfile`` plus ``--cfg-options``.

One convenience on top of mmengine: ``data_root=DIR`` among the options also moves every dataloader whose dataset
still uses the config's own top-level ``data_root`` (train, val, test, train_eval) to DIR. mmengine resolves
``data_root`` references when the file is parsed, so without this a user must override each loader. An explicit
per-loader option (``val_dataloader.dataset.data_root=...``) still wins.
"""
from typing import Optional

from mmengine.config import Config

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader', 'train_eval_dataloader')


def merge_cfg_options(cfg: Config, options: Optional[dict]) -> Config:
    """Merge ``--cfg-options`` into ``cfg`` (in place), propagating ``data_root`` as described above."""
    if not options:
        return cfg
    if 'data_root' in options and cfg.get('data_root') is not None:
        old, new = cfg.data_root, options['data_root']
        for key in DATALOADERS:
            dataset = cfg.get(key, {}).get('dataset', {})
            if dataset.get('data_root') == old:
                dataset['data_root'] = new
    cfg.merge_from_dict(options)
    return cfg


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """``Config.fromfile(path)`` with ``cfg_options`` merged (see :func:`merge_cfg_options`)."""
    return merge_cfg_options(Config.fromfile(path), cfg_options)


def without_pretrained_weights(cfg):
    """The same architectures with random weights: the CLIP towers' ``pretrained`` tags and the DINO / timm ViT
    ``checkpoint`` files of a model config set to None, in place (returned). Benchmarks and tests build the real
    configs this way where the weights cannot be fetched; ``init_cfg`` checkpoints (MiT, ResNet) load only in
    ``init_weights``, which a built model has not run."""
    if isinstance(cfg, dict):
        if str(cfg.get('type', '')).startswith('OpenCLIP'):
            cfg['pretrained'] = None
        if cfg.get('type') in ('DINOViTEncoder', 'TimmViTEncoder'):
            cfg['checkpoint'] = None
        for v in cfg.values():
            without_pretrained_weights(v)
    elif isinstance(cfg, list):
        for v in cfg:
            without_pretrained_weights(v)
    return cfg
