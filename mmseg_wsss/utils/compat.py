"""Compatibility patches that make mmengine 0.10.x usable with recent torch and without network access.

Applied once when ``mmseg_wsss`` is imported (configs import it through ``custom_imports``). They touch only
mmengine's own checkpoint loader (``mmengine.runner.CheckpointLoader``: ``load_from``, ``--resume``,
``init_cfg=dict(type='Pretrained', ...)``, ``mmseg.apis.init_model``); ``torch.load`` elsewhere is unchanged.

* Local files: torch >= 2.6 loads with ``weights_only=True``. Plain state dicts (pretrained weights) load that
  way. mmengine 0.10.7's own training checkpoints also pickle the message hub, numpy scalars and the config,
  which the safe loader refuses; for those local files only, the load is retried with ``weights_only=False``
  (what mmengine was written for), once, with a log line. Set ``MMSEG_WSSS_WEIGHTS_ONLY=1`` to forbid that
  retry (then only plain state dicts load). Only load checkpoints you trust, as with any pickle.
* Pretrained weights given as URLs (``https://``, ``torchvision://``, ``open-mmlab://``) are looked up in the
  torch hub cache first; when missing, one download attempt with a short timeout is made, and on failure a
  :class:`PretrainedWeightsNotFound` names the URL, the file to fetch and the path to put it at. Downloaded
  files are always loaded with ``weights_only=True``.
* Local checkpoint paths that do not exist raise :class:`PretrainedWeightsNotFound` naming the path.
"""
import logging
import os
import os.path as osp
import pickle
import shutil
import tempfile
import urllib.request
from urllib.parse import urlparse

import torch
from mmengine.logging import print_log
from mmengine.runner import checkpoint as mm_ckpt

DOWNLOAD_TIMEOUT_S = float(os.environ.get('MMSEG_WSSS_DOWNLOAD_TIMEOUT', 10))


class PretrainedWeightsNotFound(FileNotFoundError):
    """A checkpoint or pretrained weight file is missing and cannot be downloaded."""


def torch_load(filename, map_location=None, allow_pickle: bool = False):
    """``torch.load`` with ``weights_only=True``; for a local mmengine checkpoint (``allow_pickle``) that the safe
    loader refuses, one retry with ``weights_only=False`` unless ``MMSEG_WSSS_WEIGHTS_ONLY=1``."""
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        if not allow_pickle or os.environ.get('MMSEG_WSSS_WEIGHTS_ONLY', '0') == '1':
            raise
    print_log(f'{filename}: not a plain state dict (an mmengine training checkpoint); loading it with '
              'weights_only=False', logger='current', level=logging.DEBUG)
    return torch.load(filename, map_location=map_location, weights_only=False)


def hub_checkpoint_dir() -> str:
    """Where downloaded weights are cached (``$TORCH_HOME/hub/checkpoints``), as mmengine and torch use it."""
    return osp.join(torch.hub.get_dir(), 'checkpoints')


def load_from_local(filename, map_location=None):
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise PretrainedWeightsNotFound(
            f'Checkpoint not found: {filename}. Put the file there, or point the config key that names it '
            f'(e.g. `--cfg-options model.backbone.init_cfg.checkpoint=PATH`, or `load_from`) at a local copy.')
    return torch_load(filename, map_location=map_location, allow_pickle=True)


def cached_path_for_url(url: str, model_dir=None) -> str:
    model_dir = model_dir or hub_checkpoint_dir()
    return osp.join(model_dir, osp.basename(urlparse(url).path))


def download_or_fail(url: str, dst: str, timeout: float = DOWNLOAD_TIMEOUT_S) -> str:
    """Download ``url`` to ``dst`` atomically, or raise :class:`PretrainedWeightsNotFound` within ``timeout``."""
    os.makedirs(osp.dirname(dst), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=osp.dirname(dst), suffix='.part')
    try:
        with os.fdopen(fd, 'wb') as f, urllib.request.urlopen(url, timeout=timeout) as r:
            shutil.copyfileobj(r, f)
        os.replace(tmp, dst)
    except Exception as e:  # noqa: BLE001 - any network failure means the same thing to the user
        if osp.exists(tmp):
            os.remove(tmp)
        raise PretrainedWeightsNotFound(
            f'Cannot download pretrained weights {url} ({type(e).__name__}: {e}). Fetch that file on a machine '
            f'with internet access and put it at {dst}, or set the config key that names it (e.g. '
            f'`model.backbone.init_cfg.checkpoint`) to a local path.') from None
    return dst


def load_from_http(filename, map_location=None, model_dir=None, progress=False):
    """Replacement for mmengine's http loader: cache first, then one bounded download attempt."""
    dst = cached_path_for_url(filename, model_dir)
    if not osp.isfile(dst):
        from mmengine.dist import barrier, get_dist_info
        rank, world_size = get_dist_info()
        if rank == 0:
            download_or_fail(filename, dst)
        if world_size > 1:
            barrier()
        if not osp.isfile(dst):
            raise PretrainedWeightsNotFound(f'Rank 0 could not download {filename} to {dst}.')
    return torch_load(dst, map_location=map_location)


_PATCHED = False


def apply_patches():
    """Install the checkpoint loaders (idempotent)."""
    global _PATCHED
    if _PATCHED:
        return
    loader = mm_ckpt.CheckpointLoader
    loader.register_scheme(prefixes='', loader=load_from_local, force=True)
    loader.register_scheme(prefixes=('http://', 'https://'), loader=load_from_http, force=True)
    # torchvision:// and open-mmlab:// resolve the URL and then call the module-level `load_from_http`.
    mm_ckpt.load_from_http = load_from_http
    _PATCHED = True
