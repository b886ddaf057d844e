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
import os.path as osp
import sys
from collections import OrderedDict

import torch

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
from mmseg_wsss.utils.checkpoint_convert import convert_cli  # noqa: E402

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


def main(argv=None, converter: str = 'irn_cam2mmseg', what: str = "IRNet's res50_cam.pth"):
    def convert(state):
        out, dropped = convert_irn_cam(state)
        return out, f' ({len(dropped)} aliases checked equal and dropped)', {}

    convert_cli(argv, __doc__.split('\n')[0], what, converter, convert)


if __name__ == '__main__':
    main()
