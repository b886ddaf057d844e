"""What the official-checkpoint converters (``tools/model_converters/*2mmseg.py``) share: reading an official
file, the dataset metadata of its classifier, and writing ``{'state_dict', 'meta'}`` with the source's sha256."""
import argparse
import hashlib
import os
import os.path as osp
import pickle
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


def foreground_classes(state: dict) -> int:
    """The foreground class count of a converted state dict: the CAM classifier's rows, or the segmentation
    head's output channels less the background."""
    if 'cam_head.classifier.weight' in state:
        return state['cam_head.classifier.weight'].shape[0]
    if 'decode_head.conv_seg.weight' in state:
        return state['decode_head.conv_seg.weight'].shape[0] - 1
    raise ValueError('neither cam_head.classifier.weight nor decode_head.conv_seg.weight: no class count')


def save_converted(src: str, dst: str, state: dict, converter: str, extra_meta: Optional[dict] = None) -> dict:
    """``{'state_dict': state, 'meta': ...}`` at ``dst`` (what mmengine's and mmseg's loaders read): the dataset's
    classes (from the classifier's class count, or ``extra_meta['dataset_meta']``), ``converted_from``, the
    source's ``sha256``, the converter; returns the meta."""
    extra_meta = dict(extra_meta or {})
    meta = dict(dataset_meta=extra_meta.pop('dataset_meta', None) or dataset_meta(foreground_classes(state)),
                converted_from=osp.basename(src), sha256=sha256(src), converter=converter, **extra_meta)
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save(dict(state_dict=state, meta=meta), dst)
    return meta


def convert_cli(argv, description: str, src_help: str, converter: str,
                convert: Callable[[OrderedDict], Tuple[OrderedDict, str, dict]]) -> None:
    """``SRC DST`` -> the converted checkpoint; any ValueError of ``convert`` (state -> (converted, a note for
    the summary line, extra meta)) stops with one line naming the file."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument('src', help=src_help)
    p.add_argument('dst', help='the converted checkpoint')
    p.add_argument('--trust-pickle', action='store_true',
                   help='load the file with weights_only=False (runner checkpoints whose meta holds objects '
                        'other than tensors and plain types; only for files you trust)')
    args = p.parse_args(argv)
    if not osp.isfile(args.src):
        sys.exit(f'error: {args.src} not found')
    try:
        obj = torch.load(args.src, map_location='cpu', weights_only=not args.trust_pickle)
    except pickle.UnpicklingError as e:
        sys.exit(f'error: {args.src}: torch.load(weights_only=True) refused it ({str(e).splitlines()[0]}); if you '
                 'trust the file, rerun with --trust-pickle')
    try:
        state = source_state_dict(obj)
        out, note, extra = convert(state)
        meta = save_converted(args.src, args.dst, out, converter, extra)
    except ValueError as e:
        sys.exit(f'error: {args.src}: {e}')
    print(f'{converter}: {len(state)} keys -> {len(out)} tensors{note}, '
          f'{len(meta["dataset_meta"]["classes"]) - 1} classes -> {args.dst}')
