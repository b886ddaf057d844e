"""What the official-checkpoint converters (``tools/model_converters/*2mmseg.py``) share: reading an official
file, the dataset metadata of its classifier, and writing ``{'state_dict', 'meta'}`` with the source's sha256."""
import argparse
import hashlib
import os
import os.path as osp
import sys
from collections import OrderedDict
from typing import Callable, Optional, Tuple

import torch


def source_state_dict(obj) -> OrderedDict:
    """The tensors of a loaded official file: a plain state dict, or one under 'state_dict' / 'model', with a
    DataParallel 'module.' prefix or not."""
    if isinstance(obj, dict) and not any(torch.is_tensor(v) for v in obj.values()):
        for key in ('state_dict', 'model'):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    return OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v) for k, v in obj.items())


def dataset_meta(num_classes: int) -> dict:
    """The class names and palette of the dataset a ``num_classes``-way (foreground) classifier was trained on."""
    from .class_names import COCO14_CLASSES, COCO14_PALETTE, VOC12_CLASSES, VOC12_PALETTE
    tables = {20: (VOC12_CLASSES, VOC12_PALETTE), 80: (COCO14_CLASSES, COCO14_PALETTE)}
    if num_classes not in tables:
        raise ValueError(f'a {num_classes}-class classifier: neither VOC (20) nor COCO (80)')
    classes, palette = tables[num_classes]
    return dict(classes=tuple(classes), palette=[list(p) for p in palette])


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def save_converted(src: str, dst: str, state: dict, converter: str, extra_meta: Optional[dict] = None) -> None:
    """``{'state_dict': state, 'meta': ...}`` at ``dst`` (what mmengine's and mmseg's loaders read): the dataset's
    classes (from ``cam_head.classifier.weight``), ``converted_from``, the source's ``sha256``, the converter."""
    meta = dict(dataset_meta=dataset_meta(state['cam_head.classifier.weight'].shape[0]),
                converted_from=osp.basename(src), sha256=sha256(src), converter=converter, **(extra_meta or {}))
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save(dict(state_dict=state, meta=meta), dst)


def convert_cli(argv, description: str, src_help: str, converter: str,
                convert: Callable[[OrderedDict], Tuple[OrderedDict, str, dict]]) -> None:
    """``SRC DST`` -> the converted checkpoint; any ValueError of ``convert`` (state -> (converted, a note for
    the summary line, extra meta)) stops with one line naming the file."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument('src', help=src_help)
    p.add_argument('dst', help='the converted checkpoint')
    args = p.parse_args(argv)
    if not osp.isfile(args.src):
        sys.exit(f'error: {args.src} not found')
    try:
        state = source_state_dict(torch.load(args.src, map_location='cpu', weights_only=True))
        out, note, extra = convert(state)
        save_converted(args.src, args.dst, out, converter, extra)
    except ValueError as e:
        sys.exit(f'error: {args.src}: {e}')
    print(f'{converter}: {len(state)} keys -> {len(out)} tensors{note}, '
          f'{out["cam_head.classifier.weight"].shape[0]} classes -> {args.dst}')
