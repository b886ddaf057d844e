# The evaluators of every CAM method (CAM, CLIMS, AFA, ECA): mmseg's mIoU of the model's prediction and the CAMs'
# own mIoU (CAMMetric, keys prefixed `cam/`). Inherit it after the dataset base; the datasets' own default is
# IoUMetric alone (segmentation networks, WeakCLIP).
val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']), dict(type='CAMMetric')]
test_evaluator = val_evaluator
