from .inference import build_model, build_split_dataset, predict_one
from .pseudo_labels import pseudo_label_from_cams, pseudo_label_from_probs

__all__ = ['build_model', 'build_split_dataset', 'predict_one', 'pseudo_label_from_cams',
           'pseudo_label_from_probs']
