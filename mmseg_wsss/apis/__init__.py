from .cli import read_logged_metrics
from .config import load_config, merge_cfg_options, without_pretrained_weights
from .inference import build_split_dataset, init_wsss_model, load_inference_config, predict_item
from .pseudo_labels import pseudo_label_from_cams, pseudo_label_from_probs

__all__ = ['read_logged_metrics', 'load_config', 'merge_cfg_options', 'without_pretrained_weights', 'load_inference_config', 'init_wsss_model',
           'build_split_dataset', 'predict_item', 'pseudo_label_from_cams', 'pseudo_label_from_probs']
