# The plain CAM baseline on VOC 2012 (configs/cam/cam_r50-d16_*: IRNet's recipe) plus the project's
# flip-consistency term (SEAM's equivariant regularisation with a flip, weight 1.0). Run from the repository root:
#   python tools/train.py projects/example_project/configs/cam-flip_r50-d16_1xb16-3.3k_voc12aug-512x512.py
#   bash tools/dist_train.sh projects/example_project/configs/cam-flip_r50-d16_1xb16-3.3k_voc12aug-512x512.py 4
_base_ = ['../../../configs/cam/cam_r50-d16_1xb16-3.3k_voc12aug-512x512.py']
custom_imports = dict(imports=['mmseg_wsss', 'projects.example_project.flip_cam'], allow_failed_imports=False)
model = dict(losses=dict(flip=dict(type='FlipConsistencyLoss', weight=1.0)))
