"""The evaluation protocol a test run used, written next to its numbers.

"Which post-processing gives the paper's number?" is the most repeated question in the official repositories'
issues: CRF switched off in a released script, a log that shows the number before CRF, test scales unstated.
``tools/test.py`` therefore logs the protocol before testing and stores it in mmengine's metrics JSON (key
``protocol``) next to the mIoU, so a raw number can be told from a CRF one.
"""
import inspect
from typing import Optional

from mmengine.model import is_model_wrapper


def tta_views(pipeline) -> dict:
    """Scales and flip of a ``TestTimeAug`` pipeline (the first one in ``pipeline``): ``scale_factor`` s, or
    ``scale`` s (fixed sizes), or [1.0] without a Resize (the image as loaded)."""
    for step in pipeline or []:
        if step.get('type') != 'TestTimeAug':
            continue
        scales, flip = [1.0], False
        for branch in step['transforms']:
            types = {t.get('type') for t in branch}
            if types == {'Resize'}:
                scales = [t.get('scale_factor', t.get('scale')) for t in branch]
            if 'RandomFlip' in types:
                flip = any(t.get('prob', 0) >= 1 for t in branch if t.get('type') == 'RandomFlip')
        return dict(scales=[list(s) if isinstance(s, tuple) else s for s in scales], flip=flip)
    return dict(scales=[1.0], flip=False)


def crf_parameters(crf: Optional[dict]) -> Optional[dict]:
    """Every parameter of the dense CRF that ``crf`` (``crf_from_probs`` keyword arguments) runs with."""
    if crf is None:
        return None
    from ..utils.crf import crf_from_probs
    defaults = {k: p.default for k, p in inspect.signature(crf_from_probs).parameters.items()
                if p.default is not inspect.Parameter.empty}
    return {**defaults, **dict(crf)}


def evaluation_protocol(model, cfg) -> dict:
    """What a test of the built ``model`` (a segmentor, or the TTA model that ``--tta`` / ``--crf`` make) under
    ``cfg`` measures: split, prediction source, inference mode, test-time views and how they merge, CRF and its
    parameters, metrics."""
    model = model.module if is_model_wrapper(model) else model
    tta = hasattr(model, 'merge_preds') and hasattr(model, 'module')
    seg = model.module if tta else model
    seg = seg.module if is_model_wrapper(seg) else seg
    tc = dict(getattr(seg, 'test_cfg', None) or {})
    mode = tc.get('mode', 'whole')
    proto = dict(split=cfg.test_dataloader.dataset.get('ann_file'),
                 source=getattr(seg, 'predict_source', 'decoder'),
                 inference=(f"slide (crop {tuple(tc['crop_size'])}, stride {tuple(tc['stride'])})"
                            if mode == 'slide' else 'whole'))
    if getattr(seg, 'cam_head', None) is not None:
        proto['cam'] = dict(scales=list(tc['cam_scales']), flip=bool(tc['cam_flip']), bg_thr=tc['bg_thr'],
                            classes='image labels' if tc['use_img_labels'] else f"classifier > {tc['cls_thr']}")
    if tta:
        views = tta_views(cfg.test_dataloader.dataset.get('pipeline'))
        proto['tta'] = dict(views, merge=getattr(model, 'view_merge', 'mean'), cams_merge='mean')
        proto['crf'] = crf_parameters(getattr(model, 'crf', None))
    else:
        proto['tta'] = None
        proto['crf'] = None
    evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, (list, tuple)) else [cfg.test_evaluator]
    proto['metrics'] = [e.get('type') for e in evaluators]
    return proto


def describe_protocol(proto: dict) -> str:
    """One line: e.g. ``decoder, whole, 3 views x flip merged by max, dense CRF (n_iters=10, ...), split ...``."""
    parts = [f"{proto['source']} prediction", f"{proto['inference']} image" if proto['inference'] == 'whole'
             else proto['inference']]
    tta = proto.get('tta')
    if tta:
        parts.append(f"TTA scales {tta['scales']}{' x flip' if tta['flip'] else ''}, merged by {tta['merge']}")
    else:
        parts.append('no TTA')
    crf = proto.get('crf')
    parts.append('dense CRF (' + ', '.join(f'{k}={v}' for k, v in crf.items()) + ')' if crf else 'no CRF')
    if 'cam' in proto:
        cam = proto['cam']
        parts.append(f"CAMs at scales {cam['scales']}{' x flip' if cam['flip'] else ''}, classes from "
                     f"{cam['classes']}")
    parts.append(f"split {proto['split']}, metrics {', '.join(map(str, proto['metrics']))}")
    return '; '.join(parts)
