# The data preprocessor of every model here, defined once: mmseg's SegDataPreProcessor with ImageNet statistics,
# BGR files to RGB, images padded with 0 and labels with 255 (ignore). Model bases set `size` to their crop; a
# model whose backbone is a CLIP tower takes `clip_data_preprocessor` (the statistics CLIP was trained with).
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
clip_data_preprocessor = dict(data_preprocessor, mean=[122.771, 116.746, 104.094], std=[68.501, 66.632, 70.323])
