# Runtime shared by every config (mirrors mmseg's default_runtime, plus our plugin import and checks).
default_scope = 'mmseg'
custom_imports = dict(imports=['mmseg_wsss'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # tools/train.py switches to gloo on machines without CUDA
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
tta_model = dict(type='WSSSTTAModel')
custom_hooks = [dict(type='ClassCountCheckHook')]
