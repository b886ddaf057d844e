"""NaN-safe losses: every registered loss term stays finite, with a finite gradient, on the batches that break
WSSS code bases (a crop whose pseudo label is all ignore, no foreground, no background, an image without labels,
one class, every class).

Each term is run inside the toy model of a method that uses it (random weights, no teacher files), at the
iteration where every term is on; the pseudo-label sources' outputs (seeds read from PNGs included) are
overwritten with the case's labels, or the image-level labels are changed."""
import copy
import inspect
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import MessageHub
from mmengine.model import revert_sync_batchnorm
from mmseg.registry import DATASETS, MODELS

import mmseg_wsss.models.loss_terms as loss_terms
from mmseg_wsss.models.parts import BaseLossTerm
from mmseg_wsss.models.segmentors.wsss_segmentor import is_loss_key
from tests.conftest import ROOT
from tests.test_configs.test_configs import _without_downloads

TOY = 'configs/toy/'
# the toy models that hold every registered term between them; WeakCLIP's adds the official code's score-map
# loss (averaged over seeded pixels: the all-ignore risk), DALNet's ToCo's dense-energy regulariser (in its VOC
# auxmask config)
MODELS_WITH_TERMS = {
    'cam': (TOY + 'cam_r18-tiny-d8_1xb8-2k_toy-112x112.py', {}),
    'clims': (TOY + 'clims_r18-tiny-d8_clip-tiny_1xb8-1k_toy-112x112.py', {}),
    'afa': (TOY + 'afa_mit-tiny_1xb8-2k_toy-112x112.py', {}),
    'eca': (TOY + 'eca_mit-tiny_toy-dino_1xb8-2k_toy-112x112.py', {}),
    'weakclip': (TOY + 'weakclip_toy-clip_1xb8-1k_toy-112x112.py', {'model.losses.aux': dict(  # the code's option
        type='ScoreMapLoss', labels='seeds', tau=0.07, weight=0.4, avg_non_ignore=True)}),
    'dalnet': (TOY + 'dalnet_toy-clip_1xb8-2k_toy-112x112.py', {'model.losses.reg': dict(
        type='DenseEnergyLoss', labels='cam', scale=0.5, start_iter=501, weight=0.05)}),
}
CASES = ('all_ignore', 'no_foreground', 'no_background', 'image_without_labels', 'one_class', 'all_classes')


def _registered_terms() -> set:
    return {name for name, obj in vars(loss_terms).items()
            if inspect.isclass(obj) and issubclass(obj, BaseLossTerm) and obj is not BaseLossTerm}


def _build(key):
    path, extra = MODELS_WITH_TERMS[key]
    cfg = Config.fromfile(osp.join(ROOT, path))
    cfg.merge_from_dict(extra)
    return cfg


def test_the_models_hold_every_registered_term():
    used = {t.type for key in MODELS_WITH_TERMS for t in (_build(key).model.get('losses') or {}).values() if t}
    assert _registered_terms() <= used, f'add a toy model using {_registered_terms() - used}'


def _relabel(labels: torch.Tensor, img_labels: torch.Tensor, case: str) -> torch.Tensor:
    if case == 'all_ignore':
        return torch.full_like(labels, 255)
    if case == 'no_foreground':
        return torch.zeros_like(labels)
    if case == 'no_background':  # every pixel the image's first labelled class
        first = torch.where(img_labels.any(1), img_labels.float().argmax(1) + 1, 0)
        return first.view(-1, *[1] * (labels.dim() - 1)).expand_as(labels).clone().to(labels.dtype)
    return labels


def toy_model_and_dataset(key: str, toy_root: str):
    """(config, model with random weights, its training dataset on the toy set) of one of MODELS_WITH_TERMS."""
    cfg = _build(key)
    model = revert_sync_batchnorm(MODELS.build(_without_downloads(copy.deepcopy(cfg.model))))
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.data_root = toy_root
    if ds_cfg.get('pseudo_label_dir'):  # WeakCLIP's seeds: the toy masks stand in for a seed folder
        ds_cfg.pseudo_label_dir = osp.join(toy_root, ds_cfg.data_prefix.seg_map_path)
    return cfg, model, DATASETS.build(ds_cfg)


def loss_with_every_term_on(cfg, model, data) -> dict:
    """The model's training losses at the iteration where every term of ``cfg`` has started."""
    model.train()
    starts = [t.get('start_iter', 0) for t in (cfg.model.get('losses') or {}).values() if t is not None]
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', max(starts, default=0))
    try:
        return model.loss(data['inputs'], data['data_samples'])
    finally:
        hub.update_info('iter', 0)


@pytest.mark.parametrize('case', CASES)
@pytest.mark.parametrize('key', list(MODELS_WITH_TERMS))
def test_every_term_is_finite_with_a_finite_gradient(key, case, toy_root):
    cfg, model, ds = toy_model_and_dataset(key, toy_root)
    samples = [ds[0], ds[1]]
    num_fg = model.num_classes - 1
    for i, s in enumerate(samples):
        ids = list(s['data_samples'].metainfo['img_labels'])
        ids = {'image_without_labels': ids if i == 0 else [], 'one_class': [1],
               'all_classes': list(range(1, num_fg + 1))}.get(case, ids)
        s['data_samples'].set_metainfo(dict(img_labels=ids))
    data = model.data_preprocessor(pseudo_collate(samples), True)
    for name, src in model.pseudo_label_sources.items():
        def forward(ctx, _orig=src.forward):
            return _relabel(_orig(ctx), ctx.img_labels, case)
        src.forward = forward
    losses = loss_with_every_term_on(cfg, model, data)
    terms = [n for n, t in (cfg.model.get('losses') or {}).items() if t is not None]
    assert all(any(k.startswith(f'{n}.') for k in losses) for n in terms), (terms, list(losses))
    for k, v in losses.items():
        if is_loss_key(k):
            assert torch.isfinite(v).all(), f'{key}/{case}: {k} = {v}'
    total = sum(v for k, v in losses.items() if is_loss_key(k))
    total.backward()
    for n, p in model.named_parameters():
        if p.grad is not None:
            assert torch.isfinite(p.grad).all(), f'{key}/{case}: the gradient of {n} is not finite'
