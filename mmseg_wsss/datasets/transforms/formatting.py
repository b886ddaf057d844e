from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

DEFAULT_META_KEYS = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape', 'scale_factor', 'flip',
                     'flip_direction', 'reduce_zero_label', 'img_id', 'img_labels')


@TRANSFORMS.register_module()
class PackWSSSInputs(PackSegInputs):
    """mmseg's ``PackSegInputs`` whose metainfo also carries ``img_id`` and ``img_labels``.

    ``img_labels`` (the segmentation ids present, background excluded, from the dataset's label file) is the
    only carrier of image-level labels: metainfo survives batching, TTA and slide inference, and every consumer
    reads it through :func:`mmseg_wsss.utils.labels.img_labels_multi_hot`.
    """

    def __init__(self, meta_keys=DEFAULT_META_KEYS):
        super().__init__(meta_keys=meta_keys)
