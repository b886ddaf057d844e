"""CLIMS's released CAM networks (CVI-SZU/CLIMS) -> this project's configs: the current release
(``res50_clims.pth``, ``net.resnet50_clims.CLIMS``) into the CAM config, the camera-ready model (the paper's 56.6,
``previous_version/models/clip_resnet.py``) into the camera-ready config. The layout is recognised from the keys.

    python tools/model_converters/clims2mmseg.py res50_clims.pth pretrained/res50_clims_mmseg.pth
    python tools/test.py configs/cam/cam_r50-d16_1xb16-3.3k_voc12aug-512x512.py pretrained/res50_clims_mmseg.pth
    python tools/model_converters/clims2mmseg.py clims_voc12.pth pretrained/clims_camready_mmseg.pth
    python tools/test.py configs/clims/clims-camready_r50-d16_1xb16-6.6k_voc12aug-512x512.py \\
        pretrained/clims_camready_mmseg.pth

The current release has IRNet's layout (956 keys for 319 tensors; see ``irn_cam2mmseg.py``, which does that
conversion): only the CAM network is saved, the frozen CLIP evaluator is not. It is evaluated with the *CAM*
config: trained CLIMS infers exactly like the CAM network (ReLU CAMs of a 1x1 classifier without bias), and the
CLIMS configs would build two CLIP towers for nothing.

The camera-ready file (``save_model``: a plain state dict, DataParallel's ``module.`` stripped) holds a
torchvision-named ResNet-50 (``conv1, bn1, layer1-4`` -> ``backbone.*``, strides (1, 2, 2, 1) as the CAM
config's) and ``cam_head`` = Sequential(a LeakyReLU bottleneck, a 1x1 classifier to 21 channels with a background
channel) -> ``cam_head.bottleneck.*`` / ``cam_head.classifier.weight`` of ``BottleneckCAMHead``. Every key must map.
"""
import os.path as osp
import re
import sys
from collections import OrderedDict

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
from irn_cam2mmseg import convert_irn_cam  # noqa: E402

from mmseg_wsss.utils.checkpoint_convert import convert_cli, dataset_meta  # noqa: E402

BACKBONE = re.compile(r'(conv1|bn1|layer[1-4])\.')


def is_camera_ready(state: dict) -> bool:
    return 'cam_head.1.weight' in state


def convert_clims_camready(state: dict) -> OrderedDict:
    """The camera-ready CLIMS state dict in ``BottleneckCAMHead`` names. Raises ValueError naming the first key
    that has no place or a missing classifier."""
    out = OrderedDict()
    for key, value in state.items():
        if BACKBONE.match(key):
            out['backbone.' + key] = value
        elif key.startswith('cam_head.0.') and re.match(r'(conv|bn)[1-3]\.', key[len('cam_head.0.'):]):
            out['cam_head.bottleneck.' + key[len('cam_head.0.'):]] = value
        elif key == 'cam_head.1.weight':
            out['cam_head.classifier.weight'] = value
        else:
            raise ValueError(f'unexpected key {key!r}: not the camera-ready CLIMS model')
    if 'cam_head.classifier.weight' not in out:
        raise ValueError('no cam_head.1.weight: not the camera-ready CLIMS model')
    return out


def main(argv=None):
    def convert(state):
        if is_camera_ready(state):
            out = convert_clims_camready(state)
            fg = out['cam_head.classifier.weight'].shape[0] - 1  # channel 0 is the background score
            return out, ' (camera-ready: BottleneckCAMHead, with a background channel)', dict(
                dataset_meta=dataset_meta(fg), cam_head='BottleneckCAMHead')
        out, dropped = convert_irn_cam(state)
        return out, f' ({len(dropped)} aliases checked equal and dropped)', {}

    convert_cli(argv, __doc__.split('\n')[0], "CLIMS's res50_clims.pth or the camera-ready model", 'clims2mmseg',
                convert)


if __name__ == '__main__':
    main()
