from .cam_visualization_hook import CAMVisualizationHook
from .dataset_check_hook import ClassCountCheckHook
from .pseudo_label_quality_hook import PseudoLabelQualityHook

__all__ = ['ClassCountCheckHook', 'CAMVisualizationHook', 'PseudoLabelQualityHook']
