from .cam_pseudo_label import CAMPseudoLabel
from .carm_pseudo_label import CARMPseudoLabel
from .seed_labels import SeedLabels

__all__ = ['CAMPseudoLabel', 'CARMPseudoLabel', 'SeedLabels']
