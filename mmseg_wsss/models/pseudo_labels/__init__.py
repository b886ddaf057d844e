from .cam_pseudo_label import CAMPseudoLabel

__all__ = ['CAMPseudoLabel']
