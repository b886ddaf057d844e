"""Running a trained model over a dataset outside the runner (pseudo labels, visualisation).

Models come from ``mmseg.apis.init_model`` (which sets ``model.cfg`` and ``model.dataset_meta`` from the
checkpoint) and samples go through ``model.test_step``, mmengine's own data-preprocessor + predict path; the
datasets are the config's own, with an inference pipeline, because the image-level labels live there.
"""
import copy

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmseg.apis import init_model
from mmseg.registry import DATASETS

from .config import load_config

INFER_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackWSSSInputs')]


def load_inference_config(config: str, cfg_options=None, source: str = None) -> Config:
    """A config for :func:`init_wsss_model`: ``--cfg-options`` merged, a TTA wrapper unwrapped, and
    ``model.test_cfg.source`` set when ``source`` is given ('cam' or 'decoder')."""
    cfg = load_config(config, cfg_options)
    cfg.model = cfg.model.get('module', cfg.model)
    if source is not None:
        cfg.model.setdefault('test_cfg', {})['source'] = source
    return cfg


def init_wsss_model(cfg: Config, checkpoint: str, device: str = None):
    """``mmseg.apis.init_model`` on this machine's default device (CUDA if present, else CPU). The model is
    built under a fixed torch seed (``randomness.seed``, else 0; the caller's random state is left as it was), so
    parts that no file fills (a frozen tower built with ``pretrained=None``) are the same in every run."""
    seed = (cfg.get('randomness') or {}).get('seed')
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0 if seed is None else int(seed))
        return init_model(cfg, checkpoint, device=device or ('cuda:0' if torch.cuda.is_available() else 'cpu'))


def build_split_dataset(cfg: Config, split: str, with_masks: bool = False, pipeline: list = None):
    """The dataset of ``{split}_dataloader`` (train, val, test or train_eval) with an inference pipeline
    (``pipeline``, e.g. a TTA one, else one view as loaded)."""
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    key = f'{split}_dataloader'
    if key not in cfg:
        raise KeyError(f'config has no {key}')
    ds_cfg = copy.deepcopy(cfg[key]['dataset'])
    given = pipeline is not None
    pipeline = copy.deepcopy(pipeline if given else INFER_PIPELINE)
    if with_masks and not given:
        pipeline.insert(1, dict(type='LoadAnnotations'))
    ds_cfg['pipeline'] = pipeline
    ds_cfg.pop('pseudo_label_dir', None)
    return DATASETS.build(ds_cfg)


@torch.no_grad()
def predict_item(model, dataset, idx: int):
    """``model.test_step`` on one dataset item (a SegDataSample)."""
    return model.test_step(pseudo_collate([dataset[idx]]))[0]
