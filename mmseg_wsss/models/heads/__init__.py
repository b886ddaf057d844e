from .affinity_head import AttentionAffinityHead
from .aux_cam_head import AuxCAMHead
from .bottleneck_cam_head import BottleneckCAMHead
from .cam_head import CAMHead
from .largefov_head import LargeFOVHead
from .segformer_official_head import SegformerOfficialHead
from .sigmoid_cam_head import SigmoidCAMHead
from .text_cam_head import TextCAMHead

__all__ = ['AttentionAffinityHead', 'AuxCAMHead', 'BottleneckCAMHead', 'CAMHead', 'LargeFOVHead', 'SegformerOfficialHead', 'SigmoidCAMHead', 'TextCAMHead']
