from .cam_pseudo_label import CAMPseudoLabel
from .carm_pseudo_label import CARMPseudoLabel

__all__ = ['CAMPseudoLabel', 'CARMPseudoLabel']
