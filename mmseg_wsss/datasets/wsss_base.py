"""Base dataset for WSSS: images, image-level labels from a label file, pixel masks only for evaluation."""
import json
import os.path as osp
from typing import List, Optional

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS


class WSSSDatasetError(ValueError):
    """Raised for a dataset that cannot be used as configured (missing files, mismatched classes)."""


def read_label_file(path: str) -> dict:
    """Read an image-level label file written by our converters.

    Format (JSON)::

        {"classes": ["background", "aeroplane", ...],      # index = segmentation id
         "labels": {"2007_000032": [1, 15], ...}}           # segmentation ids of the classes present (no 0)
    """
    if not osp.isfile(path):
        raise WSSSDatasetError(
            f'Image-level label file not found: {path}. Create it with tools/dataset_converters/ '
            f'(voc_aug.py, coco2014.py or make_toy_voc.py).')
    try:
        with open(path) as f:
            data = json.load(f)
        classes, labels = data['classes'], data['labels']
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise WSSSDatasetError(f'Malformed label file {path}: {e}') from None
    return dict(classes=list(classes), labels={k: [int(c) for c in v] for k, v in labels.items()})


def write_label_file(path: str, classes, labels: dict) -> None:
    """Write a label file atomically (see :func:`read_label_file` for the format)."""
    from mmseg_wsss.utils.io import atomic_write_text
    atomic_write_text(path, json.dumps(dict(classes=list(classes), labels=labels), sort_keys=True))


@DATASETS.register_module()
class WSSSDataset(BaseSegDataset):
    """A segmentation dataset whose training signal is image-level labels.

    Each data info gains ``img_labels`` (segmentation ids present in the image, background excluded) and
    ``img_id``; ``PackWSSSInputs`` puts both into the sample's metainfo. Training never touches the mask folder;
    it may be absent. Evaluation pipelines that load annotations require it.

    Args:
        label_file (str): the JSON label file (relative to ``data_root``); see :func:`read_label_file`.
        pseudo_label_dir (str, optional): read masks from this folder instead of ``data_prefix.seg_map_path``
            (absolute, or relative to the working directory, not to ``data_root``): the output of
            ``tools/make_pseudo_labels.py``, for retraining, or seeds for a refiner (WeakCLIP). Every image must
            have its PNG there; the first missing one is named.
        All other arguments are those of :class:`mmseg.datasets.BaseSegDataset`.
    """

    def __init__(self, label_file: str = 'cls_labels.json', pseudo_label_dir: Optional[str] = None, **kwargs):
        self.label_file = label_file
        self.pseudo_label_dir = pseudo_label_dir
        super().__init__(**kwargs)

    def _join_prefix(self):
        super()._join_prefix()
        if self.label_file and not osp.isabs(self.label_file):
            self.label_file = osp.join(self.data_root, self.label_file)

    def _needs_masks(self) -> bool:
        return any(type(t).__name__ == 'LoadAnnotations' for t in self.pipeline.transforms)

    def load_data_list(self) -> List[dict]:
        if self.pseudo_label_dir:
            self.data_prefix['seg_map_path'] = osp.abspath(self.pseudo_label_dir)
        if self.data_root is not None and not osp.isdir(self.data_root):
            raise WSSSDatasetError(
                f'Data root not found: {self.data_root}. Prepare the dataset (see README, "Data preparation") '
                f'or set `data_root` in the config.')
        if self.ann_file and not osp.isfile(self.ann_file):
            raise WSSSDatasetError(f'Image list (ann_file) not found: {self.ann_file}')
        img_dir = self.data_prefix.get('img_path')
        if img_dir and not osp.isdir(img_dir):
            raise WSSSDatasetError(f'Image folder not found: {img_dir}')
        seg_dir = self.data_prefix.get('seg_map_path')
        if self.pseudo_label_dir and not osp.isdir(seg_dir):
            raise WSSSDatasetError(
                f'pseudo_label_dir not found: {seg_dir}. Write it with tools/make_pseudo_labels.py (seeds or '
                f'pseudo masks of a trained model) or set `pseudo_label_dir` in the config.')
        if self._needs_masks() and (not seg_dir or not osp.isdir(seg_dir)):
            raise WSSSDatasetError(
                f'This pipeline loads pixel masks (evaluation), but the mask folder is missing: {seg_dir}')

        label_data = read_label_file(self.label_file)
        classes = list(self._metainfo['classes'])
        if label_data['classes'] != classes:
            raise WSSSDatasetError(
                f'Label file {self.label_file} has {len(label_data["classes"])} classes '
                f'{label_data["classes"][:4]}..., but the dataset is configured with {len(classes)} classes '
                f'{classes[:4]}...; regenerate the label file or fix `metainfo`.')
        labels = label_data['labels']

        data_list = super().load_data_list()
        missing = []
        for info in data_list:
            img_id = osp.splitext(osp.relpath(info['img_path'], img_dir))[0] if img_dir else \
                osp.splitext(osp.basename(info['img_path']))[0]
            if img_id not in labels:
                missing.append(img_id)
                continue
            ids = sorted(set(labels[img_id]))
            bad = [c for c in ids if c <= 0 or c >= len(classes)]
            if bad:
                raise WSSSDatasetError(
                    f'{self.label_file}: image {img_id} has class ids {bad} outside 1..{len(classes) - 1}')
            info.update(img_id=img_id, img_labels=ids)
        if missing:
            raise WSSSDatasetError(
                f'{len(missing)} images have no entry in {self.label_file} (first: {missing[:3]})')
        if self.pseudo_label_dir:
            absent = [info['seg_map_path'] for info in data_list if not osp.isfile(info.get('seg_map_path', ''))]
            if absent:
                raise WSSSDatasetError(
                    f'pseudo_label_dir {self.pseudo_label_dir} is incomplete: {len(absent)} of {len(data_list)} '
                    f'images have no PNG (first missing: {absent[0]}); (re)run tools/make_pseudo_labels.py for '
                    f'this split')
        if not data_list:
            raise WSSSDatasetError(f'No images found for {self.ann_file or img_dir}')
        return data_list

    @property
    def num_classes(self) -> int:
        return len(self._metainfo['classes'])
