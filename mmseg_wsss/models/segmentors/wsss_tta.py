from typing import List

import torch
from mmengine.structures import PixelData
from mmseg.models import SegTTAModel
from mmseg.registry import MODELS
from mmseg.utils import SampleList


@MODELS.register_module()
class WSSSTTAModel(SegTTAModel):
    """mmseg's ``SegTTAModel`` that also merges CAMs.

    The segmentation is merged exactly as mmseg does (mean of softmaxed ``seg_logits``). When every augmented
    view carries ``cams`` (already restored to the original image by ``WSSSSegmentor.predict``), their mean is
    kept as ``cams`` so that ``CAMMetric`` and the pseudo-label tools work with ``--tta``. The image-level
    labels travel in the metainfo, which the merged sample keeps.
    """

    def merge_preds(self, data_samples_list: List[SampleList]) -> SampleList:
        merged = super().merge_preds(data_samples_list)
        for out, views in zip(merged, data_samples_list):
            if all('cams' in v for v in views):
                cams = torch.stack([v.cams.data for v in views]).mean(0)
                out.set_data(dict(cams=PixelData(data=cams)))
        return merged
