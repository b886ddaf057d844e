# The evaluator of a segmentation network (WeakCLIP, the retrain stage): mmseg's mIoU of the prediction.
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
