from .cam_ops import (add_background, cams_to_pseudo_labels, cams_to_seg, mask_absent, max_normalize,
                      multi_scale_flip_cams, restore_to_image)
from .compat import PretrainedWeightsNotFound, apply_patches
from .dist import CPUDistributedDataParallel, setup_cpu_distributed
from .labels import has_img_labels, img_labels_multi_hot

__all__ = ['max_normalize', 'mask_absent', 'add_background', 'cams_to_seg', 'cams_to_pseudo_labels',
           'restore_to_image', 'multi_scale_flip_cams', 'PretrainedWeightsNotFound', 'apply_patches',
           'CPUDistributedDataParallel', 'setup_cpu_distributed', 'img_labels_multi_hot', 'has_img_labels']
