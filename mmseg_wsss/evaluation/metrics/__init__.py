from .cam_metric import CAMMetric, label_areas, label_map_quality, miou_from_areas

__all__ = ['CAMMetric', 'label_areas', 'miou_from_areas', 'label_map_quality']
