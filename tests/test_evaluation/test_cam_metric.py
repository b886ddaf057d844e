import numpy as np
import pytest
import torch

from mmseg_wsss.evaluation import CAMMetric, confusion_matrix, iou_from_confusion


def sample(cams=None, gt=None, labels=None, pred=None):
    s = dict(gt_sem_seg=dict(data=torch.as_tensor(gt)[None]))
    if cams is not None:
        s['cams'] = dict(data=torch.as_tensor(cams, dtype=torch.float))
    if labels is not None:
        s['gt_img_labels'] = torch.as_tensor(labels, dtype=torch.float)
    if pred is not None:
        s['pred_sem_seg'] = dict(data=torch.as_tensor(pred)[None])
    return s


def test_confusion_and_iou_by_hand():
    gt = torch.tensor([0, 0, 1, 1, 2, 255])
    pred = torch.tensor([0, 1, 1, 1, 0, 2])
    conf = confusion_matrix(pred, gt, 3)
    assert conf.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    iou = iou_from_confusion(conf.numpy())
    # bg: tp 1, fp 1, fn 1 -> 1/3; class 1: tp 2, fp 1 -> 2/3; class 2: tp 0 -> 0
    assert np.allclose(iou, [1 / 3, 2 / 3, 0.0])
    assert np.isnan(iou_from_confusion(np.zeros((2, 2)))).all()


def test_threshold_sweep_by_hand():
    metric = CAMMetric(bg_thrs=[0.25, 0.5])
    metric.dataset_meta = dict(classes=('background', 'a', 'b'))
    # 1 x 4 image; class a CAM, class b CAM (b absent from the labels, so ignored)
    cams = [[[0.9, 0.4, 0.3, 0.1]], [[0.0, 0.0, 0.95, 0.0]]]
    gt = [[1, 1, 0, 0]]
    metric.process({}, [sample(cams, gt, labels=[1, 1, 0])])
    res = metric.compute_metrics(metric.results)
    # t=0.25: pred [1,1,1,0] -> bg IoU 1/2, a IoU 2/3, b absent everywhere (NaN) -> mean 7/12
    # t=0.5:  pred [1,0,0,0] -> bg 2/3, a 1/2 -> mean 7/12 as well; ties keep the first threshold
    assert res['mIoU@0.25'] == pytest.approx(100 * 7 / 12, abs=0.01)
    assert res['mIoU@0.50'] == pytest.approx(100 * 7 / 12, abs=0.01)
    assert res['best_bg_thr'] == 0.25 and res['mIoU'] == res['mIoU@0.25']


def test_accumulates_over_images_and_pred_source():
    metric = CAMMetric(source='pred')
    metric.dataset_meta = dict(classes=('background', 'a'))
    metric.process({}, [sample(gt=[[0, 1]], pred=[[0, 1]]), sample(gt=[[1, 1]], pred=[[255, 1]])])
    res = metric.compute_metrics(metric.results)
    # 255 counts as background: bg tp 1 fp 1 -> 1/2; a tp 2 fn 1 -> 2/3
    assert res['mIoU'] == pytest.approx(100 * (0.5 + 2 / 3) / 2, abs=0.01)
    metric = CAMMetric(source='pred', ignore_pred_ignored=True)
    metric.dataset_meta = dict(classes=('background', 'a'))
    metric.process({}, [sample(gt=[[0, 1]], pred=[[0, 1]]), sample(gt=[[1, 1]], pred=[[255, 1]])])
    assert metric.compute_metrics(metric.results)['mIoU'] == 100.0


def test_errors():
    with pytest.raises(ValueError):
        CAMMetric(source='logits')
    metric = CAMMetric()
    metric.dataset_meta = dict(classes=('background', 'a'))
    with pytest.raises(KeyError, match='cams'):
        metric.process({}, [sample(gt=[[0]])])
