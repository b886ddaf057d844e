from mmseg.registry import DATASETS

from ..utils.class_names import COCO14_CLASSES, COCO14_PALETTE
from .wsss_base import WSSSDataset


@DATASETS.register_module()
class COCO14WSSSDataset(WSSSDataset):
    """MS COCO 2014 for WSSS: 80 thing classes + background = 81 classes with contiguous ids 0..80.

    Layout (made by ``tools/dataset_converters/coco2014.py``)::

        data/coco2014/
          images/{train2014,val2014}/  masks/{train2014,val2014}/  {train2014,val2014}.txt
          cls_labels.json
    """
    METAINFO = dict(classes=COCO14_CLASSES, palette=COCO14_PALETTE)

    def __init__(self, img_suffix='.jpg', seg_map_suffix='.png', **kwargs):
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
