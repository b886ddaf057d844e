# CLIMS's camera-ready model (the paper's 56.6 CAM mIoU on VOC train; CVI-SZU/CLIMS previous_version/), for the
# converted release: tools/model_converters/clims2mmseg.py clims_voc12.pth pretrained/clims_camready_mmseg.pth
# The CAM network of the CAM config (ResNet-50, output stride 16) with the camera-ready head (BottleneckCAMHead:
# a LeakyReLU bottleneck and a 21-channel classifier whose channel 0 is a background score) and CLIP's mean / std
# (the camera-ready inference_cam.py normalises with them). CAMs as its inference: ReLU of the foreground
# channels at scales 0.5 / 1.0 / 1.5 / 2.0, each with its flip, summed, max-normalised; its evaluate.py keeps the
# best background threshold up to 0.5, as CAMMetric's sweep (read `cam/mIoU`).
# The schedule is the camera-ready training's (10 epochs of trainaug at batch 16); training this config trains
# the head with the CAM classification loss, not CLIMS (for that, put this head into a CLIMS config).
_base_ = ['../cam/cam_r50-d16_1xb16-3.3k_voc12aug-512x512.py']
max_iters = 6610
val_interval = 3305
model = dict(
    data_preprocessor=dict(mean=[122.771, 116.746, 104.094], std=[68.501, 66.632, 70.323]),
    cam_head=dict(_delete_=True, type='BottleneckCAMHead', in_channels=2048, num_classes=20))
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
default_hooks = dict(checkpoint=dict(interval=val_interval))
