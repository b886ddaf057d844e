from mmseg.registry import DATASETS

from ..utils.class_names import VOC12_CLASSES, VOC12_PALETTE
from .wsss_base import WSSSDataset


@DATASETS.register_module()
class VOC12WSSSDataset(WSSSDataset):
    """PASCAL VOC 2012 + SBD ("trainaug", 10,582 training images), 21 classes, background = 0.

    Layout (made by ``tools/dataset_converters/voc_aug.py``)::

        data/VOCdevkit/VOC2012/
          JPEGImages/  SegmentationClassAug/  ImageSets/Segmentation/{train_aug,train,val}.txt  cls_labels.json
    """
    METAINFO = dict(classes=VOC12_CLASSES, palette=VOC12_PALETTE)

    def __init__(self, img_suffix='.jpg', seg_map_suffix='.png', **kwargs):
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
