"""Running a model over a dataset outside the runner (pseudo labels, visualisation)."""
import copy

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmseg.registry import DATASETS, MODELS

INFER_PIPELINE = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadImageLevelLabels'),
    dict(type='PackWSSSInputs'),
]


def load_inference_config(config: str, cfg_options=None, source: str = None) -> Config:
    """A config ready for :func:`build_model`: ``--cfg-options`` merged, a TTA wrapper unwrapped, and
    ``model.test_cfg.source`` set when ``source`` is given ('cam' or 'decoder')."""
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.model = cfg.model.get('module', cfg.model)
    if source is not None:
        cfg.model.setdefault('test_cfg', {})['source'] = source
    return cfg


def build_model(cfg: Config, checkpoint: str, device: str = None):
    """Build ``cfg.model`` and load ``checkpoint`` (weights only; missing file: one clear error)."""
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(copy.deepcopy(cfg.model))
    load_checkpoint(model, checkpoint, map_location='cpu', revise_keys=[(r'^module\.', '')])
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    return model.to(device).eval()


def build_split_dataset(cfg: Config, split: str, with_masks: bool = False):
    """The dataset of ``{split}_dataloader`` (train, val, test or train_eval) with an inference pipeline."""
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    key = f'{split}_dataloader'
    if key not in cfg:
        raise KeyError(f'config has no {key}')
    ds_cfg = copy.deepcopy(cfg[key]['dataset'])
    pipeline = copy.deepcopy(INFER_PIPELINE)
    if with_masks:
        pipeline.insert(1, dict(type='LoadAnnotations'))
    ds_cfg['pipeline'] = pipeline
    ds_cfg.pop('pseudo_label_dir', None)
    return DATASETS.build(ds_cfg)


@torch.no_grad()
def predict_one(model, dataset, idx: int):
    """Model prediction (a SegDataSample) for one dataset item."""
    data = model.data_preprocessor(pseudo_collate([dataset[idx]]), False)
    return model.predict(data['inputs'], data['data_samples'])[0]
