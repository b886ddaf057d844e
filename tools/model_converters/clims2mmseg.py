"""CLIMS's current release (``res50_clims.pth``, CVI-SZU/CLIMS ``net.resnet50_clims.CLIMS``) -> the CAM config.

    python tools/model_converters/clims2mmseg.py res50_clims.pth pretrained/res50_clims_mmseg.pth
    python tools/test.py configs/cam/cam_r50-d16_1xb16-3.3k_voc12aug-512x512.py pretrained/res50_clims_mmseg.pth

The file has IRNet's layout (956 keys for 319 tensors; see ``irn_cam2mmseg.py``, which does the conversion):
only the CAM network is saved, the frozen CLIP evaluator is not. It is evaluated with the *CAM* config: trained
CLIMS infers exactly like the CAM network (ReLU CAMs of a 1x1 classifier without bias), and the CLIMS configs
would build two CLIP towers for nothing. The camera-ready model (the paper's 56.6) has another head (a
Bottleneck and a 21-way classifier with a background channel) and is not this layout.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from irn_cam2mmseg import main as convert_main  # noqa: E402

if __name__ == '__main__':
    convert_main(converter='clims2mmseg', what="CLIMS's res50_clims.pth")
