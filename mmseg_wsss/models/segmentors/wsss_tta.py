from typing import List, Optional

import mmcv
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

    Args:
        crf (dict, optional): refine the merged class probabilities with a dense CRF on the original image
            (``mmseg_wsss.utils.crf.crf_from_probs`` keyword arguments; ``{}`` = DeepLab's defaults), the usual
            WSSS test-time post-processing (``tools/test.py --crf``).
    """

    def __init__(self, crf: Optional[dict] = None, **kwargs):
        super().__init__(**kwargs)
        self.crf = crf

    def merge_preds(self, data_samples_list: List[SampleList]) -> SampleList:
        merged = super().merge_preds(data_samples_list)
        for out, views in zip(merged, data_samples_list):
            if all('cams' in v for v in views):
                cams = torch.stack([v.cams.data for v in views]).mean(0)
                out.set_data(dict(cams=PixelData(data=cams)))
            if self.crf is not None:
                from ...utils.crf import crf_from_probs
                probs = torch.stack([v.seg_logits.data.softmax(dim=0) for v in views]).mean(0)
                img = mmcv.imread(views[0].img_path, channel_order='rgb')
                refined = crf_from_probs(img, probs.float().cpu().numpy(), **self.crf)
                out.set_data(dict(pred_sem_seg=PixelData(
                    data=torch.from_numpy(refined.argmax(0))[None].to(probs.device))))
        return merged
