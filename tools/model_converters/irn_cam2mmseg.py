"""IRNet's ResNet-50 CAM network (``res50_cam.pth``: the CAM baseline and CLIMS's start, VOC or COCO) -> the CAM
config of this project (mmseg's convention: ``tools/model_converters/*2mmseg.py``).

    python tools/model_converters/irn_cam2mmseg.py res50_cam.pth pretrained/res50_cam_mmseg.pth
    python tools/test.py configs/cam/cam_r50-d16_1xb16-3.3k_voc12aug-512x512.py pretrained/res50_cam_mmseg.pth

The official file is ``torch.save(model.state_dict())`` of IRNet's ``net.resnet50_cam.Net``, which registers the
same modules several times (``resnet50.*``, and the aliases ``stage1-4.*``, ``backbone.{0-3}.*`` and
``newly_added.0.*``), so it holds 956 keys for 319 tensors. Kept: ``resnet50.X -> backbone.X`` (torchvision's
names are mmseg's ``ResNet`` names) and ``classifier.weight -> cam_head.classifier.weight`` (20 or 80 classes,
no bias). Every alias is checked equal to the tensor it repeats and dropped; any other key stops the conversion
with one line. The output carries ``meta.converted_from``, the source file's ``sha256`` and the dataset's class
names (``meta.dataset_meta``, from the classifier's class count), and loads ``strict=True`` into the CAM configs.
``clims2mmseg.py`` converts CLIMS's current release (``res50_clims.pth``, the same layout).
"""
import argparse
import hashlib
import os
import os.path as osp
import sys
from collections import OrderedDict

import torch

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
sys.path.insert(0, ROOT)

# alias prefix -> the prefix of the module it repeats (IRNet's Net: stage1 = Sequential(conv1, bn1, relu, maxpool,
# layer1), stage2-4 = Sequential(layer2-4), backbone = ModuleList(stage1-4), newly_added = ModuleList(classifier))
ALIASES = OrderedDict([('stage1.0.', 'resnet50.conv1.'), ('stage1.1.', 'resnet50.bn1.'),
                       ('stage1.4.', 'resnet50.layer1.'), ('stage2.0.', 'resnet50.layer2.'),
                       ('stage3.0.', 'resnet50.layer3.'), ('stage4.0.', 'resnet50.layer4.'),
                       ('backbone.0.', 'stage1.'), ('backbone.1.', 'stage2.'), ('backbone.2.', 'stage3.'),
                       ('backbone.3.', 'stage4.'), ('newly_added.0.', 'classifier.')])


def canonical(key: str) -> str:
    """The key of the tensor an alias repeats (the key itself when it is not an alias)."""
    for alias, target in ALIASES.items():
        if key.startswith(alias):
            return canonical(target + key[len(alias):])
    return key


def source_state_dict(obj) -> dict:
    """The tensors of a loaded official file: a plain state dict, or one under 'state_dict' / 'model', with a
    DataParallel 'module.' prefix or not."""
    if isinstance(obj, dict) and not any(torch.is_tensor(v) for v in obj.values()):
        for key in ('state_dict', 'model'):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    return OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v) for k, v in obj.items())


def convert_irn_cam(state: dict):
    """(converted state dict, dropped alias keys). Raises ValueError naming the first unexpected key, an alias
    that differs from the tensor it should repeat, or a missing classifier."""
    out, dropped = OrderedDict(), []
    for key, value in state.items():
        target = canonical(key)
        if target != key:
            if target not in state:
                raise ValueError(f'{key}: an IRNet alias of {target}, which the file lacks')
            if not torch.equal(value, state[target]):
                raise ValueError(f'{key} differs from {target}, the tensor it repeats in IRNet\'s Net: not an '
                                 'IRNet / CLIMS ResNet-50 CAM file')
            dropped.append(key)
        elif key.startswith('resnet50.'):
            if key.startswith('resnet50.fc.'):  # torchvision's ImageNet classifier, never used by the CAM network
                dropped.append(key)
                continue
            out['backbone.' + key[len('resnet50.'):]] = value
        elif key == 'classifier.weight':
            out['cam_head.classifier.weight'] = value
        else:
            raise ValueError(f'unexpected key {key!r}: not an IRNet / CLIMS ResNet-50 CAM file')
    if 'cam_head.classifier.weight' not in out:
        raise ValueError('no classifier.weight: not an IRNet / CLIMS ResNet-50 CAM file')
    return out, dropped


def dataset_meta(num_classes: int) -> dict:
    """The class names and palette of the dataset a ``num_classes``-way classifier was trained on."""
    from mmseg_wsss.utils.class_names import COCO14_CLASSES, COCO14_PALETTE, VOC12_CLASSES, VOC12_PALETTE
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


def save_converted(src: str, dst: str, state: dict, converter: str, extra_meta: dict = None) -> None:
    """``{'state_dict': state, 'meta': ...}`` at ``dst`` (what mmengine's and mmseg's loaders read)."""
    meta = dict(dataset_meta=dataset_meta(state['cam_head.classifier.weight'].shape[0]),
                converted_from=osp.basename(src), sha256=sha256(src), converter=converter, **(extra_meta or {}))
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save(dict(state_dict=state, meta=meta), dst)


def main(argv=None, converter: str = 'irn_cam2mmseg', what: str = "IRNet's res50_cam.pth"):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('src', help=what)
    p.add_argument('dst', help='the converted checkpoint')
    args = p.parse_args(argv)
    if not osp.isfile(args.src):
        sys.exit(f'error: {args.src} not found')
    try:
        state = source_state_dict(torch.load(args.src, map_location='cpu', weights_only=True))
        out, dropped = convert_irn_cam(state)
        save_converted(args.src, args.dst, out, converter)
    except ValueError as e:
        sys.exit(f'error: {args.src}: {e}')
    print(f'{converter}: {len(state)} keys -> {len(out)} tensors ({len(dropped)} aliases checked equal and '
          f'dropped), {out["cam_head.classifier.weight"].shape[0]} classes -> {args.dst}')


if __name__ == '__main__':
    main()
