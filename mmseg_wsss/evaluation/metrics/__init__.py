from .cam_metric import CAMMetric, confusion_matrix, iou_from_confusion

__all__ = ['CAMMetric', 'confusion_matrix', 'iou_from_confusion']
