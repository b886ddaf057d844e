from mmseg.registry import DATASETS

from .folder_wsss import FolderWSSSDataset


@DATASETS.register_module()
class ToyWSSSDataset(FolderWSSSDataset):
    """The generated VOC-layout toy dataset (``tools/dataset_converters/make_toy_voc.py``).

    Its classes are read from ``meta.json`` in ``data_root``, written by the generator, so one dataset class
    serves every ``--num-classes``.
    """
    label = 'Toy dataset'
    hint = 'python tools/dataset_converters/make_toy_voc.py --out {root}'
