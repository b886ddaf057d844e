from .cam_pseudo_label import CAMPseudoLabel
from .carm_pseudo_label import CARMPseudoLabel
from .patch_text_labels import PatchTextLabels
from .seed_labels import SeedLabels

__all__ = ['CAMPseudoLabel', 'CARMPseudoLabel', 'SeedLabels', 'PatchTextLabels']
