from .affinity_head import AttentionAffinityHead
from .cam_head import CAMHead
from .sigmoid_cam_head import SigmoidCAMHead

__all__ = ['AttentionAffinityHead', 'CAMHead', 'SigmoidCAMHead']
