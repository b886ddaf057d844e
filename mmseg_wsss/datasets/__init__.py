from .coco14_wsss import COCO14WSSSDataset
from .folder_wsss import FolderWSSSDataset
from .toy_wsss import ToyWSSSDataset
from .transforms import PackWSSSInputs
from .voc12_wsss import VOC12WSSSDataset
from .wsss_base import WSSSDataset, WSSSDatasetError, read_label_file, write_label_file

__all__ = ['WSSSDataset', 'VOC12WSSSDataset', 'COCO14WSSSDataset', 'ToyWSSSDataset', 'FolderWSSSDataset',
           'WSSSDatasetError', 'read_label_file', 'write_label_file', 'PackWSSSInputs']
