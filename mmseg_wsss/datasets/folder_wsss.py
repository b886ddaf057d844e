"""A WSSS dataset made from a user's own folder of images and image-level labels
(``tools/dataset_converters/image_folder.py``): the VOC layout plus ``meta.json`` with its classes."""
import json
import os.path as osp

from mmseg.registry import DATASETS

from ..utils.class_names import voc_palette
from .wsss_base import WSSSDataset, WSSSDatasetError


@DATASETS.register_module()
class FolderWSSSDataset(WSSSDataset):
    """Images in ``JPEGImages/``, optional masks in ``SegmentationClass/``, ``cls_labels.json``, image lists in
    ``ImageSets/Segmentation/`` and ``meta.json`` in ``data_root``: ``classes`` (background first) and
    ``img_suffix``, written by ``tools/dataset_converters/image_folder.py``. One dataset class serves any class
    list; ``metainfo`` / ``img_suffix`` given in the config win over the file's."""
    label = 'Image-folder dataset'
    hint = 'python tools/dataset_converters/image_folder.py IMAGES LABELS --out {root}'

    def __init__(self, data_root: str, metainfo=None, **kwargs):
        meta_file = osp.join(data_root, 'meta.json')
        if not osp.isfile(meta_file):
            raise WSSSDatasetError(f'{self.label} not found at {data_root} (no meta.json). Make it with '
                                   f'`{self.hint.format(root=data_root)}`.')
        with open(meta_file) as f:
            meta = json.load(f)
        metainfo = dict(metainfo or {})
        metainfo.setdefault('classes', tuple(meta['classes']))
        metainfo.setdefault('palette', voc_palette(len(metainfo['classes'])))
        kwargs.setdefault('img_suffix', meta.get('img_suffix', '.jpg'))
        super().__init__(data_root=data_root, metainfo=metainfo, **kwargs)
