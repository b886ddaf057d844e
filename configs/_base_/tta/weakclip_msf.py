# WeakCLIP's pseudo-mask protocol (official code; the paper's Sec. 4.1 gives no detail): the test resize (short
# side 512, long side at most 2048) times 0.5 / 0.75 / 1.0 / 1.25 / 1.5 / 1.75, each with its horizontal flip,
# the views' class probabilities averaged (`tools/make_pseudo_labels.py --tta`, or `tools/test.py --tta`), then
# a dense CRF at full resolution with the dataset's parameters (`pseudo_label_crf` in the VOC / COCO configs).
# Named weakclip_* because the dataset bases define tta_pipeline (mmengine refuses a key two _base_ files define):
# a config that lists this file sets `tta_pipeline = _base_.weakclip_tta_pipeline`.
weakclip_img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
weakclip_tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale=(int(2048 * r), int(512 * r)), keep_ratio=True) for r in weakclip_img_ratios],
            [dict(type='RandomFlip', prob=0., direction='horizontal'),
             dict(type='RandomFlip', prob=1., direction='horizontal')],
            [dict(type='LoadAnnotations')],
            [dict(type='PackWSSSInputs')],
        ])
]
