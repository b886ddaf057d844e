"""Building frozen open_clip models: named architectures with pretrained tags or local files, or a small
architecture from a config dict (tests, toy configs). Weights that are neither cached nor reachable fail within
seconds with one line saying what to fetch and how to point the config at it."""
import os.path as osp
import socket
from typing import Optional
from urllib.parse import urlparse

import open_clip
import torch.nn as nn

from ...utils.compat import PretrainedWeightsNotFound

PROBE_TIMEOUT_S = 5.0
# This project's own open_clip architectures (model_configs/*.json), registered with open_clip so that they are
# built by open_clip.create_model exactly like 'ViT-B-16': 'toy-clip' is the CLIP trained on the toy corpus
# (tools/toy_teachers/build_toy_teachers.py, `make toy-teachers`).
MODEL_CONFIG_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'model_configs')
open_clip.add_model_config(MODEL_CONFIG_DIR)


def _reachable(host: str, port: int = 443, timeout: float = PROBE_TIMEOUT_S) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def resolve_pretrained(model_name: str, pretrained: Optional[str], config_key: str = 'pretrained') -> Optional[str]:
    """A local file for ``pretrained`` (tag or path), or raise :class:`PretrainedWeightsNotFound` quickly.

    Cached weights (the HF hub cache, or ~/.cache/clip for OpenAI URLs) are used without network access; when
    they are absent and the host cannot be reached within a few seconds, the error names the file to fetch.
    """
    if pretrained is None:
        return None
    path = osp.expanduser(pretrained)
    if osp.isfile(path):
        return path
    cfg = open_clip.get_pretrained_cfg(model_name, pretrained)
    if not cfg:
        if osp.sep in pretrained or pretrained.endswith(('.pt', '.pth', '.bin', '.safetensors')):
            hint = ': run `make toy-teachers` to build it' if model_name == 'toy-clip' else ''
            raise PretrainedWeightsNotFound(
                f'CLIP checkpoint not found: {pretrained} (config key `{config_key}`){hint}')
        tags = open_clip.list_pretrained_tags_by_model(model_name)
        raise ValueError(f'unknown open_clip pretrained tag {pretrained!r} for {model_name}; known: {tags}')
    hf_repo = cfg.get('hf_hub', '')
    if hf_repo:
        from huggingface_hub import try_to_load_from_cache
        repo = hf_repo.rstrip('/')
        names = ('open_clip_model.safetensors', 'open_clip_pytorch_model.bin')
        for name in names:
            cached = try_to_load_from_cache(repo, name)
            if isinstance(cached, str) and osp.isfile(cached):
                return cached
        url, host = f'https://huggingface.co/{repo}/resolve/main/{names[0]}', 'huggingface.co'
    else:
        url = cfg['url']
        cached = osp.join(osp.expanduser('~/.cache/clip'), osp.basename(urlparse(url).path))
        if osp.isfile(cached):
            return cached
        host = urlparse(url).hostname
    if not _reachable(host):
        raise PretrainedWeightsNotFound(
            f'CLIP weights {model_name}/{pretrained} are not cached and {host} cannot be reached. Fetch {url} on a '
            f'machine with internet access and set the config key `{config_key}` to its local path.')
    return open_clip.download_pretrained(cfg)


def quick_gelu_for(model_name: str, pretrained: Optional[str], quick_gelu: Optional[bool] = None) -> bool:
    """Whether the tower must use QuickGELU: ``quick_gelu`` when given, else what the pretrained tag says.

    OpenAI's CLIP towers were trained with QuickGELU (open_clip's ``openai`` tags say ``quick_gelu=True``), but
    ``open_clip.create_model('ViT-B-16', pretrained=<local file>)`` builds the plain config with ``nn.GELU`` and
    never sees the tag (open_clip issue 771). The tag is therefore read here, before it is resolved to a file.
    For a local file there is no tag: set ``quick_gelu=True`` for OpenAI's weights (the OpenAI configs here do).
    An explicit value that contradicts the tag is an error.
    """
    tag_cfg = {} if pretrained is None or osp.isfile(osp.expanduser(pretrained)) else \
        open_clip.get_pretrained_cfg(model_name, pretrained)
    tag = tag_cfg.get('quick_gelu') if tag_cfg else None
    if quick_gelu is None:
        return bool(tag)
    if tag is not None and bool(tag) != bool(quick_gelu):
        raise ValueError(f'quick_gelu={quick_gelu} contradicts the pretrained tag {model_name}/{pretrained}, whose '
                         f'towers were trained with quick_gelu={bool(tag)}')
    return bool(quick_gelu)


def build_open_clip(model_name: str = 'ViT-B-16',
                    pretrained: Optional[str] = 'openai',
                    model_cfg: Optional[dict] = None,
                    config_key: str = 'pretrained',
                    quick_gelu: Optional[bool] = None) -> nn.Module:
    """A frozen (``requires_grad=False``), eval-mode open_clip model (the caller unfreezes what trains).

    ``model_cfg`` (an open_clip ``CLIP`` config: embed_dim, vision_cfg, text_cfg) builds that architecture
    instead of the named one, randomly initialised unless ``pretrained`` is a local file. ``quick_gelu``: see
    :func:`quick_gelu_for` (None: from the pretrained tag, e.g. True for ``'openai'``).
    """
    if model_cfg is not None:
        cfg = dict(model_cfg)
        if quick_gelu:
            cfg['quick_gelu'] = True
        model = open_clip.CLIP(**cfg)
        if pretrained is not None:
            path = osp.expanduser(pretrained)
            if not osp.isfile(path):
                raise PretrainedWeightsNotFound(f'CLIP checkpoint not found: {pretrained} (config key `{config_key}`)')
            open_clip.load_checkpoint(model, path)
    else:
        force = quick_gelu_for(model_name, pretrained, quick_gelu)
        path = resolve_pretrained(model_name, pretrained, config_key)
        model = open_clip.create_model(model_name, pretrained=path, force_quick_gelu=force)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def tokenizer_for(model_name: str, model_cfg: Optional[dict] = None):
    if model_cfg is not None:
        ctx = model_cfg.get('text_cfg', {}).get('context_length', 77)
        return lambda texts: open_clip.tokenize(texts, context_length=ctx)
    return open_clip.get_tokenizer(model_name)


def tiny_clip_cfg(embed_dim: int = 32, image_size: int = 32, patch_size: int = 8, width: int = 32,
                  layers: int = 2, text_width: int = 32, context_length: int = 32) -> dict:
    """A small ViT CLIP architecture (same code paths as ViT-B/16) for tests and toy configs."""
    return dict(
        embed_dim=embed_dim,
        vision_cfg=dict(image_size=image_size, layers=layers, width=width, patch_size=patch_size, head_width=16),
        text_cfg=dict(context_length=context_length, vocab_size=49408, width=text_width, heads=2, layers=layers))
