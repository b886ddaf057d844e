from .cam_head import CAMHead
from .sigmoid_cam_head import SigmoidCAMHead

__all__ = ['CAMHead', 'SigmoidCAMHead']
