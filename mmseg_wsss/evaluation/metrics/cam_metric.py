"""mIoU of CAMs (with a background-threshold sweep) or of predicted / pseudo labels against pixel masks.

The counting is mmseg's own: ``IoUMetric.intersect_and_union`` per image and ``IoUMetric.total_area_to_metrics``
for the totals, so a CAM mIoU here and an ``IoUMetric`` mIoU of the same label maps are the same number.
"""
from collections import OrderedDict
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS
from prettytable import PrettyTable

from ...utils.labels import has_img_labels, img_labels_multi_hot


def label_areas(pred: torch.Tensor, gt: torch.Tensor, num_classes: int, ignore_index: int = 255) -> torch.Tensor:
    """(4, C) areas (intersection, union, prediction, ground truth) of one label map, as IoUMetric counts them."""
    return torch.stack(IoUMetric.intersect_and_union(pred, gt, num_classes, ignore_index))


def miou_from_areas(areas: np.ndarray) -> np.ndarray:
    """Per-class IoU (C,) from summed (4, C) areas (NaN for classes absent from prediction and ground truth)."""
    return IoUMetric.total_area_to_metrics(*torch.as_tensor(areas, dtype=torch.float64), metrics=['mIoU'])['IoU']


@METRICS.register_module()
class CAMMetric(BaseMetric):
    """CAM / pseudo-label quality: mIoU against pixel masks.

    ``source='cams'`` reads the ``cams`` field (normalised foreground CAMs at the image size, written by
    ``WSSSSegmentor.predict``), restricts them to the image's labels (``img_labels`` in the metainfo) when present,
    and for every background threshold t in ``bg_thrs`` predicts background where no labelled class exceeds t
    (the standard CAM evaluation protocol). It reports the best threshold and its mIoU, plus mIoU at every t.
    ``source='pred'`` scores ``pred_sem_seg`` (e.g. pseudo labels); pixels predicted ``ignore_index`` count as
    background unless ``ignore_pred_ignored`` is set, which drops them (that gives "precision on confident
    pixels").

    Use it from ``tools/test.py`` with a test dataloader over the train split that loads masks.
    """
    default_prefix = 'cam'

    def __init__(self,
                 source: str = 'cams',
                 bg_thrs: Optional[Sequence[float]] = None,
                 ignore_index: int = 255,
                 ignore_pred_ignored: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if source not in ('cams', 'pred'):
            raise ValueError(f"source must be 'cams' or 'pred', got {source!r}")
        self.source = source
        self.bg_thrs = [round(float(t), 4) for t in (bg_thrs if bg_thrs is not None else np.arange(0.05, 0.96, 0.05))]
        self.ignore_index = ignore_index
        self.ignore_pred_ignored = ignore_pred_ignored

    def process_pred(self, pred: torch.Tensor, gt: torch.Tensor, num_classes: int) -> None:
        """Add one predicted label map (H, W) against its ground truth (H, W)."""
        pred = pred.clone()
        if self.ignore_pred_ignored:
            gt = torch.where(pred == self.ignore_index, torch.full_like(gt, self.ignore_index), gt)
        pred[pred == self.ignore_index] = 0
        self.results.append(label_areas(pred, gt, num_classes, self.ignore_index)[None].numpy())

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        num_classes = len(self.dataset_meta['classes'])
        for s in data_samples:
            if 'gt_sem_seg' not in s:
                raise KeyError('CAMMetric needs pixel masks: the test pipeline must include LoadAnnotations')
            gt = s['gt_sem_seg']['data'].squeeze(0)
            if self.source == 'pred':
                self.process_pred(s['pred_sem_seg']['data'].squeeze(0), gt, num_classes)
                continue
            if 'cams' not in s:
                raise KeyError("CAMMetric(source='cams') needs `cams` in the predictions: use a model with a "
                               "cam_head and test_cfg.source='cam' (or output_cams=True)")
            cams = s['cams']['data']
            if has_img_labels([s]):
                cams = cams * img_labels_multi_hot([s], cams.shape[0], cams.device)[0][:, None, None]
            peak, arg = cams.max(dim=0)
            areas = [label_areas(torch.where(peak > t, arg + 1, torch.zeros_like(arg)), gt, num_classes,
                                 self.ignore_index) for t in self.bg_thrs]
            self.results.append(torch.stack(areas).numpy())

    def compute_metrics(self, results: List[np.ndarray]) -> dict:
        logger: MMLogger = MMLogger.get_current_instance()
        areas = np.sum(np.stack(results), axis=0)  # (T, 4, C)
        ious = np.stack([miou_from_areas(a) for a in areas])  # (T, C)
        mious = np.nanmean(ious, axis=1)
        best = int(np.nanargmax(mious))
        metrics = OrderedDict()
        metrics['mIoU'] = round(float(mious[best]) * 100, 2)
        if self.source == 'cams':
            metrics['best_bg_thr'] = self.bg_thrs[best]
            for t, m in zip(self.bg_thrs, mious):
                metrics[f'mIoU@{t:.2f}'] = round(float(m) * 100, 2)

        table = PrettyTable(field_names=['class', 'IoU'])
        for name, iou in zip(self.dataset_meta['classes'], ious[best]):
            table.add_row([name, '-' if np.isnan(iou) else round(float(iou) * 100, 2)])
        head = f'best bg threshold {self.bg_thrs[best]}' if self.source == 'cams' else 'predicted labels'
        print_log(f'CAM metric ({head}), per class:\n' + table.get_string(), logger=logger)
        return metrics


def label_map_quality(pairs, num_classes: int, ignore_index: int = 255) -> dict:
    """Quality of label maps that may contain ``ignore_index`` (pseudo labels): ``pairs`` yields (pred, gt) (H, W)
    tensors. Returns mIoU with unsure pixels counted as background, mIoU on the confident pixels only, and the
    fraction of (valid) pixels that are confident; percentages, counted as ``CAMMetric(source='pred')`` does.
    With no confident pixel at all, ``mIoU_confident`` is left out (it has no pixel to be measured on; a NaN
    would reach the logs and the visualizer's backends), and ``confident_fraction`` is 0."""
    as_bg = CAMMetric(source='pred', ignore_index=ignore_index)
    confident = CAMMetric(source='pred', ignore_index=ignore_index, ignore_pred_ignored=True)
    sure = total = 0
    for pred, gt in pairs:
        as_bg.process_pred(pred, gt, num_classes)
        confident.process_pred(pred, gt, num_classes)
        valid = gt != ignore_index
        sure += int(((pred != ignore_index) & valid).sum())
        total += int(valid.sum())

    def miou(metric):
        return round(float(np.nanmean(miou_from_areas(np.sum(np.stack(metric.results), axis=0)[0]))) * 100, 2)

    quality = dict(mIoU=miou(as_bg), confident_fraction=round(sure / max(total, 1), 4))
    if sure:
        quality['mIoU_confident'] = miou(confident)
    return quality
