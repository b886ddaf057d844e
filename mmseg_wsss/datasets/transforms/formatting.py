import torch
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

DEFAULT_META_KEYS = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape', 'scale_factor', 'flip',
                     'flip_direction', 'reduce_zero_label', 'img_id', 'img_labels')


@TRANSFORMS.register_module()
class PackWSSSInputs(PackSegInputs):
    """``PackSegInputs`` plus the image-level labels.

    The data sample gets ``gt_img_labels`` (multi-hot tensor over all classes, background at 0) as a data
    field, and ``img_labels`` (segmentation ids present) in its metainfo, so that inference code that only sees
    metainfo (``encode_decode``, TTA) can restrict CAMs to the image's classes.
    """

    def __init__(self, meta_keys=DEFAULT_META_KEYS):
        super().__init__(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        if 'gt_img_labels' in results:
            packed['data_samples'].gt_img_labels = torch.as_tensor(results['gt_img_labels'])
        return packed
