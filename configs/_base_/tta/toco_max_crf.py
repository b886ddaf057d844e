# ToCo's test protocol (Ru et al., CVPR 2023; DALNet follows it): the image at scales 1.0 / 1.25 / 1.5, each with
# its horizontal flip, the views merged by their maximum, then ToCo's dense CRF (`tools/test.py --tta --crf`).
# Named toco_* because the dataset bases define tta_pipeline (mmengine refuses a key two _base_ files define):
# a config that lists this file sets `tta_pipeline = _base_.toco_tta_pipeline` and
# `tta_model = _base_.toco_tta_model`.
toco_img_ratios = [1.0, 1.25, 1.5]
toco_tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in toco_img_ratios],
            [dict(type='RandomFlip', prob=0., direction='horizontal'),
             dict(type='RandomFlip', prob=1., direction='horizontal')],
            [dict(type='LoadAnnotations')],
            [dict(type='PackWSSSInputs')],
        ])
]
toco_tta_model = dict(
    view_merge='max', crf_cfg=dict(n_iters=10, pos_sxy=1, pos_compat=1, bi_sxy=121, bi_srgb=5, bi_compat=4))
