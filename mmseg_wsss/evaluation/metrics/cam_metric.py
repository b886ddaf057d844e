"""mIoU of CAMs (with a background-threshold sweep) or of predicted / pseudo labels against pixel masks."""
from collections import OrderedDict
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.registry import METRICS
from prettytable import PrettyTable


def confusion_matrix(pred: torch.Tensor, gt: torch.Tensor, num_classes: int,
                     ignore_index: int = 255) -> torch.Tensor:
    """(num_classes, num_classes) counts, rows = ground truth, columns = prediction; ``ignore_index`` skipped."""
    valid = gt != ignore_index
    idx = gt[valid].long() * num_classes + pred[valid].long()
    return torch.bincount(idx, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def iou_from_confusion(conf: np.ndarray) -> np.ndarray:
    """Per-class IoU = TP / (TP + FP + FN); NaN for classes absent from both prediction and ground truth."""
    conf = conf.astype(np.float64)
    tp = np.diag(conf)
    union = conf.sum(0) + conf.sum(1) - tp
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(union > 0, tp / union, np.nan)


@METRICS.register_module()
class CAMMetric(BaseMetric):
    """CAM / pseudo-label quality: mIoU against pixel masks.

    ``source='cams'`` reads the ``cams`` field (normalised foreground CAMs at the image size, written by
    ``WSSSSegmentor.predict``), restricts them to the image's labels (``gt_img_labels``) when present, and for
    every background threshold t in ``bg_thrs`` predicts background where no labelled class exceeds t
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
                 prefix: Optional[str] = None,
                 **kwargs):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if source not in ('cams', 'pred'):
            raise ValueError(f"source must be 'cams' or 'pred', got {source!r}")
        self.source = source
        self.bg_thrs = [round(float(t), 4) for t in (bg_thrs if bg_thrs is not None else np.arange(0.05, 0.96, 0.05))]
        self.ignore_index = ignore_index
        self.ignore_pred_ignored = ignore_pred_ignored

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        num_classes = len(self.dataset_meta['classes'])
        for s in data_samples:
            if 'gt_sem_seg' not in s:
                raise KeyError('CAMMetric needs pixel masks: the test pipeline must include LoadAnnotations')
            gt = s['gt_sem_seg']['data'].squeeze(0)
            if self.source == 'pred':
                pred = s['pred_sem_seg']['data'].squeeze(0).clone()
                if self.ignore_pred_ignored:
                    gt = gt.clone()
                    gt[pred == self.ignore_index] = self.ignore_index
                pred[pred == self.ignore_index] = 0
                self.results.append(confusion_matrix(pred, gt, num_classes, self.ignore_index)[None].cpu().numpy())
                continue
            if 'cams' not in s:
                raise KeyError("CAMMetric(source='cams') needs `cams` in the predictions: use a model with a "
                               "cam_head and test_cfg.source='cam' (or output_cams=True)")
            cams = s['cams']['data']
            if 'gt_img_labels' in s:
                cams = cams * s['gt_img_labels'][1:].to(cams)[:, None, None]
            peak, arg = cams.max(dim=0)
            confs = []
            for t in self.bg_thrs:
                pred = torch.where(peak > t, arg + 1, torch.zeros_like(arg))
                confs.append(confusion_matrix(pred, gt, num_classes, self.ignore_index))
            self.results.append(torch.stack(confs).cpu().numpy())

    def compute_metrics(self, results: List[np.ndarray]) -> dict:
        logger: MMLogger = MMLogger.get_current_instance()
        conf = np.sum(np.stack(results), axis=0)  # (T, C, C)
        ious = np.stack([iou_from_confusion(c) for c in conf])  # (T, C)
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
