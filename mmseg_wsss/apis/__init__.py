from .cli import read_logged_metrics
from .inference import build_model, build_split_dataset, load_inference_config, predict_one
from .pseudo_labels import pseudo_label_from_cams, pseudo_label_from_probs

__all__ = ['read_logged_metrics', 'load_inference_config', 'build_model', 'build_split_dataset', 'predict_one', 'pseudo_label_from_cams',
           'pseudo_label_from_probs']
