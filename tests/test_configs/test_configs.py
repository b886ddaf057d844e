"""Every config under configs/ builds its model and its datasets (toy-made data where the real one is absent)."""
import copy
import glob
import os.path as osp

import pytest
import torch
from open_clip.transformer import QuickGELU
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import MessageHub
from mmengine.model import revert_sync_batchnorm
from mmengine.structures import PixelData
from mmseg.registry import DATASETS, MODELS

from tests.conftest import ROOT

from mmseg_wsss.apis import without_pretrained_weights
from mmseg_wsss.models.segmentors.wsss_segmentor import is_loss_key

CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader', 'train_eval_dataloader')


def test_every_config_is_listed():
    assert len(CONFIGS) >= 10


_without_downloads = without_pretrained_weights  # the real configs' architectures, random weights


def clip_pretrained_tags(cfg) -> set:
    """The ``pretrained`` values of the config's CLIP towers."""
    found = set()
    if isinstance(cfg, dict):
        if str(cfg.get('type', '')).startswith('OpenCLIP'):
            found.add(cfg.get('pretrained'))
        for v in cfg.values():
            found |= clip_pretrained_tags(v)
    elif isinstance(cfg, (list, tuple)):
        for v in cfg:
            found |= clip_pretrained_tags(v)
    return found


def _data_root_for(cfg, toy_root, voc_like_root, coco_like_root):
    ds_type = cfg.train_dataloader.dataset.type
    return {'ToyWSSSDataset': toy_root, 'VOC12WSSSDataset': voc_like_root,
            'COCO14WSSSDataset': coco_like_root}[ds_type]


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(p, ROOT) for p in CONFIGS])
def test_config_builds_model_and_datasets(path, toy_root, voc_like_root, coco_like_root, tmp_path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports['imports'] == ['mmseg_wsss'] and cfg.default_scope == 'mmseg'
    name = osp.basename(path)
    if not name.startswith('deeplab'):
        assert cfg.model.type == 'WSSSSegmentor'
    if name.startswith(('afa', 'eca')):
        assert cfg.model.backbone.type == 'MixVisionTransformerWithAttn' and cfg.model.cam_head.pool == 'max'
        assert cfg.model.decode_head.type == 'SegformerHead'
        if '/toy/' not in path:
            assert cfg.model.backbone.init_cfg.type == 'Pretrained'
    if name.startswith('eca'):
        carm, losses = cfg.model.pseudo_labels.carm, cfg.model.losses
        # the toy twin's gamma is toy-dino's (configs/eca/README.md); the real configs keep the paper's
        assert carm.gamma == (0.75 if '/toy/' in path else 0.15) and carm.scales == (1.0, 0.5)
        assert carm.top_k == (0.15 if 'coco' in name else 0.3)
        assert (losses.seg_cam.weight, losses.corr.weight, losses.aff.weight) == \
            ((0.1, 0.05, 0.1) if 'coco' in name else (0.1, 0.1, 0.1))
        if name.startswith('eca_'):  # the paper's defaults
            assert carm.get('seed_bg', 'paper') == 'paper' and losses.corr.form == 'js'
            assert losses.aff.labels == 'carm' and cfg.model.pseudo_labels.cam.affinity is None
    if name.startswith('weakclip-official'):  # the official code's layout, for its converted release
        m = cfg.model
        assert m.backbone.out_indices == (3, 5, 7, 11) and not m.neck.matcher.chained and m.neck.matcher.shared_proj
        assert m.backbone.pretrained is None and m.encoders.text.pretrained is None  # the towers come from the file
        assert m.backbone.quick_gelu and m.encoders.text.quick_gelu
        assert m.backbone.model_cfg.vision_cfg.image_size == 512 and m.encoders.text.model_cfg.text_cfg.context_length == 13
        assert m.data_preprocessor.mean == [123.675, 116.28, 103.53]
        assert len(m.encoders.text.class_names) == m.decode_head.num_classes == (91 if 'coco' in name else 21)
    if name.startswith('weakclip_'):
        m = cfg.model
        assert m.backbone.type == 'OpenCLIPImageEncoder' and m.neck.type == 'TextGuidedNeck'
        assert m.decode_head.type == 'FPNHead' and m.encoders.text.n_ctx == 8 and not m.encoders.text.frozen
        assert m.neck.matcher.scale_init == 0.1 and m.neck.matcher.chained  # the paper's defaults
        assert m.losses.boundary.ratio_clip is None and m.losses.seed.get('bg_log', True)
        assert cfg.optim_wrapper.optimizer.type == 'AdamW' and cfg.optim_wrapper.optimizer.weight_decay == 3e-5
        assert cfg.train_dataloader.dataset.get('pseudo_label_dir')
        if '/toy/' not in path:
            assert m.backbone.out_indices == (2, 5, 8, 11) and m.losses.seed.size == (64, 64)
            assert cfg.optim_wrapper.optimizer.lr == 1e-4 and m.test_cfg.mode == 'slide'
            assert m.encoders.text.class_names == ('coco14_bg' if 'coco' in name else 'voc12_bg')
    if name.startswith('dalnet'):  # the supplementary's values and the reconstruction's defaults (facts/dalnet.md)
        m, losses = cfg.model, cfg.model.losses
        in21k = 'in21k' in name  # reconstruction 1's alternative: an ImageNet-21k ViT + a learned projection
        assert m.backbone.type == ('TimmViTEncoder' if in21k else 'OpenCLIPImageEncoder')
        assert m.backbone.train_blocks == 'all' and not m.backbone.get('frozen', False)
        assert m.cam_head.type == 'TextCAMHead' and m.cam_head.cam_source == 'text'
        assert m.decode_head.type == 'LargeFOVHead'
        mask = m.pseudo_labels.object_mask
        if name.startswith('dalnet-auxmask'):  # reconstruction 6's ToCo alternative: an auxiliary block-10 CAM
            assert mask.type == 'CAMPseudoLabel' and mask.cams == 'aux.cams'
            assert mask.high_thr == mask.low_thr == 0.5
            assert m.heads.aux.tokens == 9 and losses.aux_cls.head == 'aux' and losses.aux_cls.weight == 1.0
            reg = losses.reg
            assert (reg.weight, reg.sigma_rgb, reg.sigma_xy, reg.scale, reg.layer_weight) == (0.05, 15, 100, 0.5, 1e-7)
        else:
            assert mask.beta == 0.5 and mask.tokens in m.backbone.token_blocks
        assert (losses.seg.weight, losses.cls.weight) == (0.1, 1.0)
        if losses.get('gia') is not None:
            assert losses.gia.weight == 1.0
            assert losses.gia.get('similarity', 'clamp') == ('affine' if in21k else 'clamp')
        if losses.get('cc') is not None:
            assert (losses.cc.tau, losses.cc.bg_weight, losses.cc.weight) == (1.0, 0.001, 1.0)
        assert cfg.tta_model.view_merge == 'max' and cfg.tta_model.crf_cfg.bi_compat == 4
        if '/toy/' not in path:
            assert m.backbone.token_blocks == (9, ) and losses.seg.start_iter == 2001
            assert m.encoders.clip_text.background_prompt == 'a photo of background.'
            assert cfg.train_dataloader.batch_size == 4 and cfg.optim_wrapper.optimizer.lr == 6e-5
            if in21k:
                assert m.backbone.proj_dim == 512 and m.backbone.checkpoint.endswith('augreg_in21k.safetensors')
                assert cfg.optim_wrapper.paramwise_cfg.custom_keys['backbone.text_proj'].lr_mult == 10.0
                assert m.data_preprocessor.mean == [127.5] * 3 and m.data_preprocessor.std == [127.5] * 3
            assert {'gia-lea': ('gia', 'lea'), 'gia': ('gia', )}.get(name.split('_')[0][7:], ('gia', 'lea', 'cc')) \
                == tuple(k for k in ('gia', 'lea', 'cc') if losses.get(k) is not None)
    if name.startswith('clims-camready'):  # the camera-ready release's network (inference of converted weights)
        assert cfg.model.cam_head.type == 'BottleneckCAMHead' and cfg.model.test_cfg.cam_flip
        assert cfg.model.data_preprocessor.mean == [122.771, 116.746, 104.094]  # CLIP's, as its inference
        assert tuple(cfg.model.test_cfg.cam_scales) == (1.0, 0.5, 1.5, 2.0)
    if name.startswith('clims_'):
        assert cfg.model.cam_head.type == 'SigmoidCAMHead' and cfg.model.losses.clims.type == 'CLIMSLoss'
        assert set(cfg.model.encoders) == {'clip_image', 'clip_text'}
        assert cfg.optim_wrapper.constructor == 'FrozenAwareOptimWrapperConstructor'
        clims = cfg.model.losses.clims
        assert clims.get('mask_fill', 'mean') == 'mean'  # masked pixels are the mean colour in every official version
        if 'vitb32' in name:  # the official code's settings, all of them
            assert clims.variant == 'code' and cfg.model.encoders.clip_text.rename == dict(person='player')
            assert cfg.model.encoders.clip_text.bg_prompts.startswith('clims_code_')
            assert cfg.optim_wrapper.optimizer.momentum == 1e-4 and cfg.optim_wrapper.optimizer.weight_decay == 0
            assert cfg.model.backbone.frozen_stages == 0 and cfg.model.backbone.norm_cfg.requires_grad
            assert cfg.model.cam_head.inference_activation == 'relu'
            assert clims.cbs_thr == (0.285 if 'coco' in name else 0.26)

    # datasets: every dataloader builds and yields a packed sample
    root = _data_root_for(cfg, toy_root, voc_like_root, coco_like_root)
    for key in LOADERS:
        if key not in cfg:
            continue
        ds_cfg = copy.deepcopy(cfg[key].dataset)
        ds_cfg.data_root = root
        if ds_cfg.get('pseudo_label_dir'):
            ds_cfg.pseudo_label_dir = osp.join(root, ds_cfg.data_prefix.seg_map_path)
        ds = DATASETS.build(ds_cfg)
        item = ds[0]
        assert item['inputs'].shape[0] == 3
        if key == 'train_dataloader' and ds_cfg.get('pseudo_label_dir') is None:
            assert 'gt_sem_seg' not in item['data_samples']  # WSSS training never reads masks
        num_classes = len(ds.metainfo['classes'])

    # model: builds without touching pretrained weights, matches the dataset, and computes its losses
    model_cfg = _without_downloads(copy.deepcopy(cfg.model))
    model = revert_sync_batchnorm(MODELS.build(model_cfg))
    inference_only = cfg.model.get('test_cfg', {}).get('keep_channels') is not None  # more slots than classes
    assert (model.out_channels if inference_only else model.num_classes) == num_classes
    # OpenAI's CLIP towers run with QuickGELU (their training activation), every other tower with its own GELU
    clip_parts = [m for m in model.modules() if type(m).__name__.startswith('OpenCLIP')]
    for part in clip_parts:
        quick = any(isinstance(m, QuickGELU) for m in part.modules())
        openai = clip_pretrained_tags(cfg.model) == {'openai'} or name.startswith('weakclip-official')
        assert quick == openai, type(part).__name__
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.data_root = root
    if ds_cfg.get('pseudo_label_dir'):
        ds_cfg.pseudo_label_dir = osp.join(root, ds_cfg.data_prefix.seg_map_path)
    ds = DATASETS.build(ds_cfg)
    data = model.data_preprocessor(pseudo_collate([ds[0], ds[1]]), True)
    # small inputs keep the big backbones cheap on CPU
    data['inputs'] = torch.nn.functional.interpolate(data['inputs'], size=(64, 64))
    for s in data['data_samples']:
        s.set_metainfo(dict(img_shape=(64, 64), pad_shape=(64, 64), padding_size=[0, 0, 0, 0]))
        if 'gt_sem_seg' in s:
            s.gt_sem_seg = PixelData(data=s.gt_sem_seg.data[:, :64, :64])
    model.train()
    if inference_only:
        with pytest.raises(ValueError, match='keep_channels is for inference'):
            model.loss(data['inputs'], data['data_samples'])
        _check_predicts(model, cfg, data, num_classes)
        return
    # toy configs: at the iteration where every loss term is on (the real ones stay at 0: cheap)
    starts = [t.get('start_iter', 0) for t in (cfg.model.get('losses') or {}).values() if t is not None]
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', max(starts, default=0) if '/toy/' in path else 0)
    try:
        losses = model.loss(data['inputs'], data['data_samples'])
    finally:
        hub.update_info('iter', 0)
    if '/toy/' in path:
        assert all(any(k.startswith(f'{name}.') for k in losses)
                   for name, term in (cfg.model.get('losses') or {}).items() if term is not None)
    total = sum(v for k, v in losses.items() if is_loss_key(k))
    assert torch.isfinite(total)
    total.backward()

    # which parameters learn: the heads and the trainable backbone get gradients; frozen parts (teachers,
    # frozen stages, frozen BN) get none
    grads = {n: p.grad for n, p in model.named_parameters()}
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert all(grads[n] is None for n in frozen)
    assert all(grads[n] is not None for n, p in model.named_parameters() if p.requires_grad)
    head = 'cam_head.classifier.weight' if cfg.model.get('cam_head') else 'decode_head.conv_seg.weight'
    assert grads[head].abs().sum() > 0
    if name.startswith('weakclip'):  # CLIP frozen (paper); the adapter, co-attention and prompts learn
        assert all(n in frozen for n in grads if n.startswith('backbone.'))
        for part in ('neck.adapter.', 'neck.matcher.', 'neck.fpn.'):
            assert any(g is not None and g.abs().sum() > 0 for n, g in grads.items() if n.startswith(part))
        assert grads['encoders.text.ctx'].abs().sum() > 0
        assert [n for n in grads if n.startswith('encoders.') and n not in frozen] == ['encoders.text.ctx']
        saved = [k for k in model.state_dict() if k.startswith('encoders.')]
        assert saved == ['encoders.text.ctx']  # the frozen towers are left out of checkpoints
    else:
        assert any(g is not None and g.abs().sum() > 0 for n, g in grads.items() if n.startswith('backbone.'))
    if cfg.model.get('encoders') and not name.startswith('weakclip'):
        assert all(n in frozen for n in grads if n.startswith('encoders.'))
        saved = {k.split('.')[1] for k in model.state_dict() if k.startswith('encoders.')}
        assert saved == model.encoders_in_checkpoint  # frozen teachers are left out of checkpoints by default
    if cfg.model.backbone.get('frozen_stages', -1) >= 0:
        assert 'backbone.conv1.weight' in frozen

    _check_predicts(model, cfg, data, num_classes)


def _check_predicts(model, cfg, data, num_classes):
    """The model predicts standard samples (CAM models: with their CAMs)."""
    model.eval()
    with torch.no_grad():
        out = model.predict(data['inputs'], data['data_samples'])
    assert out[0].pred_sem_seg.data.shape[-2:] == out[0].seg_logits.data.shape[-2:]
    assert out[0].seg_logits.data.shape[0] == num_classes
    if cfg.model.get('cam_head') and model.predict_source == 'cam':
        assert out[0].cams.data.shape[0] == num_classes - 1


REAL_CONFIGS = [p for p in CONFIGS if osp.basename(osp.dirname(p)) != 'toy']


@pytest.mark.parametrize('path', REAL_CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_real_config_records_the_papers_total_batch(path):
    """``{gpus}xb{batch}`` in the name, the loader's batch and ``auto_scale_lr.base_batch_size`` agree, and
    mmengine's learning-rate scaling is off (the configs keep the paper's learning rate: README, "Fewer GPUs than
    the paper")."""
    import re
    gpus, per_gpu = map(int, re.search(r'_(\d+)xb(\d+)-', osp.basename(path)).groups())
    cfg = Config.fromfile(path)
    assert cfg.train_dataloader.batch_size == per_gpu
    assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=gpus * per_gpu)
