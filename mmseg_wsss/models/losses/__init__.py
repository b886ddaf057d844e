from .affinity import affinity_labels, affinity_loss, radius_mask
from .balanced_ce import BgFgBalancedCrossEntropyLoss, bg_fg_balanced_ce
from .clims import btm_loss, cbs_loss, otm_loss, reg_loss
from .dalnet import (alignment_similarity, cam_labels, cross_contrastive_loss, gia_loss, lea_loss,
                     patch_text_cams, region_means)
from .multilabel import multilabel_soft_margin_loss
from .weakclip import balanced_seed_loss, boundary_loss, crf_image, crf_refine_batch, seed_probabilities

__all__ = [
    'affinity_labels', 'affinity_loss', 'radius_mask', 'BgFgBalancedCrossEntropyLoss',
    'bg_fg_balanced_ce', 'multilabel_soft_margin_loss', 'otm_loss', 'btm_loss', 'cbs_loss', 'reg_loss',
    'balanced_seed_loss', 'boundary_loss', 'crf_image', 'crf_refine_batch', 'seed_probabilities',
    'alignment_similarity', 'gia_loss', 'patch_text_cams', 'cam_labels', 'lea_loss', 'region_means',
    'cross_contrastive_loss']
