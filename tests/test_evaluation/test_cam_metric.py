import numpy as np
import pytest
import torch

from mmseg.evaluation import IoUMetric

from mmseg_wsss.evaluation import CAMMetric, label_areas, label_map_quality, miou_from_areas


def sample(cams=None, gt=None, labels=None, pred=None):
    s = dict(gt_sem_seg=dict(data=torch.as_tensor(gt)[None]))
    if cams is not None:
        s['cams'] = dict(data=torch.as_tensor(cams, dtype=torch.float))
    if labels is not None:
        s['img_labels'] = list(labels)  # metainfo keys sit at the top level of a packed sample's dict
    if pred is not None:
        s['pred_sem_seg'] = dict(data=torch.as_tensor(pred)[None])
    return s


def test_areas_and_iou_by_hand_and_as_iou_metric():
    gt = torch.tensor([0, 0, 1, 1, 2, 255])
    pred = torch.tensor([0, 1, 1, 1, 0, 2])
    areas = label_areas(pred, gt, 3)
    iou = miou_from_areas(areas.numpy())
    # bg: tp 1, fp 1, fn 1 -> 1/3; class 1: tp 2, fp 1 -> 2/3; class 2: tp 0 -> 0
    assert np.allclose(iou, [1 / 3, 2 / 3, 0.0])
    assert np.isnan(miou_from_areas(np.zeros((4, 2)))).all()
    # the same number as mmseg's IoUMetric on the same maps
    ref = IoUMetric(iou_metrics=['mIoU'])
    ref.dataset_meta = dict(classes=('background', 'a', 'b'))
    ref.process({}, [dict(pred_sem_seg=dict(data=pred[None, None]), gt_sem_seg=dict(data=gt[None, None]))])
    ours = CAMMetric(source='pred')
    ours.dataset_meta = ref.dataset_meta
    ours.process({}, [dict(pred_sem_seg=dict(data=pred[None, None]), gt_sem_seg=dict(data=gt[None, None]))])
    assert ours.compute_metrics(ours.results)['mIoU'] == ref.compute_metrics(ref.results)['mIoU']


def test_label_map_quality():
    pairs = [(torch.tensor([[0, 1]]), torch.tensor([[0, 1]])), (torch.tensor([[255, 1]]), torch.tensor([[1, 1]]))]
    q = label_map_quality(pairs, 2)
    assert q['mIoU'] == pytest.approx(100 * (0.5 + 2 / 3) / 2, abs=0.01)
    assert q['mIoU_confident'] == 100.0 and q['confident_fraction'] == 0.75


def test_label_map_quality_without_a_confident_pixel_logs_no_nan():
    import warnings
    pairs = [(torch.full((2, 3), 255), torch.tensor([[0, 1, 1], [0, 0, 1]]))]
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # no 'Mean of empty slice'
        q = label_map_quality(pairs, 2)
    assert q == dict(mIoU=pytest.approx(100 * (3 / 6) / 2, abs=0.01), confident_fraction=0.0)
    assert all(np.isfinite(v) for v in q.values())


def test_threshold_sweep_by_hand():
    metric = CAMMetric(bg_thrs=[0.25, 0.5])
    metric.dataset_meta = dict(classes=('background', 'a', 'b'))
    # 1 x 4 image; class a CAM, class b CAM (b absent from the labels, so ignored)
    cams = [[[0.9, 0.4, 0.3, 0.1]], [[0.0, 0.0, 0.95, 0.0]]]
    gt = [[1, 1, 0, 0]]
    metric.process({}, [sample(cams, gt, labels=[1])])
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
    with pytest.raises(TypeError):
        CAMMetric(bg_thr=[0.5])  # a misspelt option is an error, not silently ignored
