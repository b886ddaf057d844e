import json
import os.path as osp

from mmseg.registry import DATASETS

from ..utils.class_names import voc_palette
from .wsss_base import WSSSDataset, WSSSDatasetError


@DATASETS.register_module()
class ToyWSSSDataset(WSSSDataset):
    """The generated VOC-layout toy dataset (``tools/dataset_converters/make_toy_voc.py``).

    Its classes are read from ``meta.json`` in ``data_root``, written by the generator, so one dataset class
    serves every ``--num-classes``.
    """

    def __init__(self, data_root: str, metainfo=None, **kwargs):
        meta_file = osp.join(data_root, 'meta.json')
        if not osp.isfile(meta_file):
            raise WSSSDatasetError(
                f'Toy dataset not found at {data_root} (no meta.json). Generate it with '
                f'`python tools/dataset_converters/make_toy_voc.py --out {data_root}`.')
        with open(meta_file) as f:
            classes = tuple(json.load(f)['classes'])
        metainfo = dict(metainfo or {})
        metainfo.setdefault('classes', classes)
        metainfo.setdefault('palette', voc_palette(len(metainfo['classes'])))
        super().__init__(data_root=data_root, metainfo=metainfo, **kwargs)
