# The toy CAM network (configs/toy/cam_r18-tiny-d8_*) plus the project's flip-consistency term, at SEAM's weight
# of its equivariant regularisation (1.0). Run from the repository root:
#   python tools/train.py projects/example_project/configs/cam-flip_r18-tiny-d8_1xb8-2k_toy-112x112.py
_base_ = ['../../../configs/toy/cam_r18-tiny-d8_1xb8-2k_toy-112x112.py']
custom_imports = dict(imports=['mmseg_wsss', 'projects.example_project.flip_cam'], allow_failed_imports=False)
model = dict(losses=dict(flip=dict(type='FlipConsistencyLoss', weight=1.0)))
