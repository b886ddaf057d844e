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
            WSSS test-time post-processing. ``tools/test.py --crf`` sets it to ``crf_cfg``.
        crf_cfg (dict, optional): a method's own CRF parameters, used when ``--crf`` is given (e.g. ToCo's and
            DALNet's ``dict(pos_sxy=1, pos_compat=1, bi_sxy=121, bi_srgb=5, bi_compat=4)``); None = ``{}``.
        view_merge (str): how views' class probabilities merge: 'mean' (mmseg's) or 'max' (per class and pixel, as
            ToCo's and DALNet's multi-scale test).
        keep_probs (bool): also keep the merged class probabilities (C, H, W) as ``seg_probs`` (before any CRF):
            what ``tools/make_pseudo_labels.py --tta`` turns into pseudo masks. Off for ``tools/test.py``.
    """

    def __init__(self, crf: Optional[dict] = None, crf_cfg: Optional[dict] = None, view_merge: str = 'mean',
                 keep_probs: bool = False, **kwargs):
        super().__init__(**kwargs)
        if view_merge not in ('mean', 'max'):
            raise ValueError(f"view_merge must be 'mean' or 'max', got {view_merge!r}")
        self.crf, self.crf_cfg, self.view_merge, self.keep_probs = crf, crf_cfg, view_merge, keep_probs

    def _probs(self, views) -> torch.Tensor:
        probs = torch.stack([v.seg_logits.data.softmax(dim=0) for v in views])
        return probs.mean(0) if self.view_merge == 'mean' else probs.max(0)[0]

    def merge_preds(self, data_samples_list: List[SampleList]) -> SampleList:
        merged = super().merge_preds(data_samples_list)
        for out, views in zip(merged, data_samples_list):
            need = self.view_merge == 'max' or self.crf is not None or self.keep_probs
            probs = self._probs(views) if need else None
            if self.keep_probs:
                out.set_data(dict(seg_probs=PixelData(data=probs)))
            if self.view_merge == 'max':
                out.set_data(dict(pred_sem_seg=PixelData(data=probs.argmax(0)[None])))
            if all('cams' in v for v in views):
                cams = torch.stack([v.cams.data for v in views]).mean(0)
                out.set_data(dict(cams=PixelData(data=cams)))
            if self.crf is not None:
                from ...utils.crf import crf_from_probs
                img = mmcv.imread(views[0].img_path, channel_order='rgb')
                refined = crf_from_probs(img, probs.float().cpu().numpy(), **self.crf)
                out.set_data(dict(pred_sem_seg=PixelData(
                    data=torch.from_numpy(refined.argmax(0))[None].to(probs.device))))
        return merged
