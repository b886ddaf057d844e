import copy

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmseg_wsss  # noqa: F401
import tests.plugins  # noqa: F401  (test-only modules)
from mmseg_wsss.models.clip import tiny_clip_cfg
from mmseg_wsss.models.segmentors.wsss_segmentor import is_loss_key
from mmseg_wsss.utils.cam_ops import cams_to_seg

K = 3  # foreground classes
BACKBONE = dict(type='ResNet', depth=18, stem_channels=8, base_channels=8, out_indices=(3, ), strides=(1, 2, 1, 1),
                dilations=(1, 1, 2, 4), norm_cfg=dict(type='BN'))


def tiny_cfg(decode=True, **kw):
    cfg = dict(
        type='WSSSSegmentor',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[10, 20, 30], std=[2, 3, 4], bgr_to_rgb=True,
                               size=(32, 32)),
        backbone=copy.deepcopy(BACKBONE),
        cam_head=dict(type='CAMHead', in_channels=64, num_classes=K),
        losses=dict(cls=dict(type='CAMClassificationLoss', weight=2.0)),
        test_cfg=dict(bg_thr=0.3))
    if decode:
        cfg['decode_head'] = dict(type='FCNHead', in_channels=64, in_index=-1, channels=16, num_convs=1,
                                  dropout_ratio=0.0, num_classes=K + 1,
                                  loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0))
        cfg['pseudo_labels'] = dict(cam=dict(type='CAMPseudoLabel', high_thr=0.55, low_thr=0.35))
        cfg['losses']['seg'] = dict(type='DecodeLoss', labels='cam', weight=0.5, start_iter=5)
    cfg.update(kw)
    return cfg


def samples(B=2, H=28, W=30, labels=((1, 3), (2, ))):
    return [SegDataSample(metainfo=dict(img_shape=(H, W), ori_shape=(H, W), img_labels=list(labels[b])))
            for b in range(B)]


def preprocess(model, B=2, H=28, W=30, training=True, labels=((1, 3), (2, ))):
    data = dict(inputs=[torch.rand(3, H, W) * 255 for _ in range(B)], data_samples=samples(B, H, W, labels))
    return model.data_preprocessor(data, training)


def set_iter(i):
    MessageHub.get_current_instance().update_info('iter', i)


@pytest.fixture(autouse=True)
def reset_iter():
    yield
    set_iter(0)


def count_calls(module):
    calls = []
    module.register_forward_hook(lambda *a: calls.append(1))
    return calls


def total(losses):
    return sum(v for k, v in losses.items() if is_loss_key(k))


def test_terms_weighted_once_and_scheduled():
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg())
    model.train()
    data = preprocess(model)
    set_iter(0)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert 'seg.loss_ce' not in losses  # before start_iter=5: not computed
    from mmseg_wsss.models.losses import multilabel_soft_margin_loss
    feats = model.extract_feat(data['inputs'])
    cls = multilabel_soft_margin_loss(model.cam_head(feats)['cls_logits'], torch.tensor([[1., 0, 1], [0, 1, 0]]))
    assert torch.allclose(losses['cls.loss'], 2.0 * cls)  # the term's weight, applied once
    set_iter(5)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert losses['seg.loss_ce'] > 0 and 'seg.acc_seg' in losses
    unweighted = model.decode_head.loss_by_feat(model.decode_head(feats), [
        SegDataSample(metainfo=s.metainfo, gt_sem_seg=PixelData(data=lab[None]))
        for s, lab in zip(data['data_samples'], model.pseudo_labels_for(data['inputs'], data['data_samples'])['cam'])])
    assert torch.allclose(losses['seg.loss_ce'], 0.5 * unweighted['loss_ce'], rtol=1e-4)


def test_end_iter_and_every_parameter_gets_a_gradient_before_start():
    model = MODELS.build(tiny_cfg(losses=dict(
        cls=dict(type='CAMClassificationLoss'),
        seg=dict(type='DecodeLoss', labels='cam', start_iter=3, end_iter=6))))
    model.train()
    data = preprocess(model)
    for it, active in ((2, False), (3, True), (5, True), (6, False)):
        set_iter(it)
        model.zero_grad()
        losses = model.loss(data['inputs'], data['data_samples'])
        assert ('seg.loss_ce' in losses) == active
        total(losses).backward()
        # no parameter is left out of the graph (DDP needs no find_unused_parameters) ...
        assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
        # ... and an inactive term's head gets exactly zero gradient
        assert (model.decode_head.conv_seg.weight.grad.abs().sum() > 0) == active


def test_two_sources_one_decoder_pass():
    cfg = tiny_cfg(
        encoders=dict(teacher=dict(type='_TeacherEncoder', dim=K + 1)),
        pseudo_labels=dict(cam=dict(type='CAMPseudoLabel', high_thr=0.55, low_thr=0.35),
                           teacher=dict(type='_TeacherPseudoLabel')),
        losses=dict(cls=dict(type='CAMClassificationLoss'),
                    seg_teacher=dict(type='DecodeLoss', labels='teacher', weight=0.1),
                    seg_cam=dict(type='DecodeLoss', labels='cam', weight=0.1, start_iter=2)))
    model = MODELS.build(cfg).train()
    decoder_calls = count_calls(model.decode_head)
    sources = {name: [] for name in model.pseudo_label_sources}
    for name, src in model.pseudo_label_sources.items():
        src.register_forward_hook(lambda m, i, o, n=name: sources[n].append(o))
    data = preprocess(model)
    set_iter(0)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert len(decoder_calls) == 1 and 'seg_teacher.loss_ce' in losses and 'seg_cam.loss_ce' not in losses
    assert len(sources['teacher']) == 1 and not sources['cam']  # a source nobody reads is not computed
    set_iter(2)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert len(decoder_calls) == 2  # once per batch, for both terms
    assert 'seg_teacher.loss_ce' in losses and 'seg_cam.loss_ce' in losses
    # the teacher's labels respect the image labels and the padding
    labels = model.pseudo_labels_for(data['inputs'], data['data_samples'])['teacher']
    assert (labels[:, 28:, :] == 255).all() and (labels[:, :, 30:] == 255).all()
    assert set(labels[1].unique().tolist()) <= {0, 2, 255} and set(labels[0].unique().tolist()) <= {0, 1, 3, 255}


def shared_teacher_cfg(**enc_opts):
    return tiny_cfg(
        encoders=dict(teacher=dict(type='_TeacherEncoder', dim=K + 1, **enc_opts)),
        pseudo_labels=dict(teacher=dict(type='_TeacherPseudoLabel')),
        losses=dict(cls=dict(type='CAMClassificationLoss'),
                    seg=dict(type='DecodeLoss', labels='teacher'),
                    distill=dict(type='_TeacherLoss', weight=0.5)))


def test_frozen_encoder_shared_runs_once_no_grad_not_in_optimizer_not_saved():
    model = MODELS.build(shared_teacher_cfg()).train()
    teacher = model.encoders['teacher']
    calls = count_calls(teacher)
    assert not teacher.training and not teacher.bn.training  # eval mode despite model.train()
    data = preprocess(model)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert len(calls) == 1  # read by a source and a loss term, run once
    assert 'distill.loss' in losses and 'seg.loss_ce' in losses
    total(losses).backward()
    assert all(p.grad is None and not p.requires_grad for p in teacher.parameters())
    assert torch.equal(teacher.bn.running_mean, torch.zeros_like(teacher.bn.running_mean))  # no BN update
    optim = build_optim_wrapper(model, dict(type='OptimWrapper', constructor='FrozenAwareOptimWrapperConstructor',
                                            optimizer=dict(type='SGD', lr=0.1)))
    in_optim = {id(p) for g in optim.optimizer.param_groups for p in g['params']}
    assert not any(id(p) in in_optim for p in teacher.parameters())
    assert all(id(p) in in_optim for n, p in model.named_parameters() if not n.startswith('encoders.'))
    # checkpoints leave the frozen teacher out and load back, strictly, without it
    state = model.state_dict()
    assert not any(k.startswith('encoders.') for k in state) and 'cam_head.classifier.weight' in state
    other = MODELS.build(shared_teacher_cfg())
    other.encoders['teacher'].load_state_dict(teacher.state_dict())  # as if built from the same pretrained file
    other.load_state_dict(state, strict=True)
    for k, v in model.state_dict().items():
        assert torch.equal(v, other.state_dict()[k]), k
    # in_checkpoint=True keeps them
    assert any(k.startswith('encoders.teacher.') for k in MODELS.build(shared_teacher_cfg(in_checkpoint=True))
               .state_dict())


def test_trainable_encoder_saves_only_what_learns():
    cfg = tiny_cfg(decode=False, encoders=dict(text=dict(type='_LearnableTextEncoder', num_classes=K + 1, dim=8,
                                                         frozen=False)))
    model = MODELS.build(cfg)
    assert 'encoders.text.embeddings' in model.state_dict()


def test_backbone_extra_reaches_a_loss_term_and_text_reaches_a_decode_head():
    backbone = dict(BACKBONE, type='_ExtrasResNet')
    cfg = tiny_cfg(
        backbone=backbone,
        encoders=dict(text=dict(type='_LearnableTextEncoder', num_classes=K + 1, dim=8, frozen=False)),
        text_encoder='text',
        decode_head=dict(type='_TextDotHead', text_dim=8, in_channels=64, in_index=-1, channels=16,
                         num_classes=K + 1, loss_decode=dict(type='CrossEntropyLoss')),
        losses=dict(cls=dict(type='CAMClassificationLoss'), stem=dict(type='_ExtrasLoss', weight=0.1),
                    seg=dict(type='DecodeLoss', labels='cam')))
    model = MODELS.build(cfg).train()
    backbone_calls = count_calls(model.backbone)
    data = preprocess(model)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert len(backbone_calls) == 1  # the extra comes from the same forward
    assert losses['stem.loss'] > 0
    total(losses).backward()
    text = model.encoders['text'].embeddings
    assert text.grad is not None and text.grad.abs().sum() > 0  # through the decode head's logits
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        out = model.predict(data['inputs'], data['data_samples'])
    assert out[0].seg_logits.data.shape == (K + 1, 28, 30)
    with pytest.raises(ValueError, match='accepts_text'):
        MODELS.build(dict(cfg, text_encoder=None))


def test_images_in_context_follow_the_preprocessor():
    model = MODELS.build(tiny_cfg(decode=False))
    rgb = torch.randint(0, 256, (3, 32, 32)).float()  # as mmcv loads: BGR
    data = model.data_preprocessor(dict(inputs=[rgb], data_samples=samples(1, 32, 32)), True)
    ctx = model.build_context(data['inputs'], data['data_samples'])
    assert torch.allclose(ctx.images[0] * 255, rgb.flip(0), atol=1e-3)  # RGB, in [0, 1]
    # the mean colour (a zero input), in RGB: what CLIMS fills masked pixels with
    assert torch.allclose(ctx.image_mean.flatten() * 255, torch.tensor([10., 20., 30.]))


def test_unknown_names_fail_at_build():
    with pytest.raises(KeyError, match="reads pseudo labels \\['nope'\\]"):
        MODELS.build(tiny_cfg(losses=dict(seg=dict(type='DecodeLoss', labels='nope'))))
    with pytest.raises(TypeError, match='dict keyed by name'):
        MODELS.build(tiny_cfg(losses=[dict(type='CAMClassificationLoss')]))
    with pytest.raises(KeyError, match='not among encoders'):
        MODELS.build(tiny_cfg(text_encoder='text'))


def test_predict_cam_source():
    model = MODELS.build(tiny_cfg(decode=False)).eval()
    data = preprocess(model, training=False, labels=((2, ), (1, 3)))
    with torch.no_grad():
        out = model.predict(data['inputs'], data['data_samples'])
        raw = model._forward(data['inputs'])
    assert isinstance(raw, torch.Tensor) and raw.shape[1] == K  # mmseg's _forward returns a tensor
    assert len(out) == 2
    for i, res in enumerate(out):
        assert isinstance(res, SegDataSample)
        assert res.seg_logits.data.shape == (K + 1, 28, 30) and res.pred_sem_seg.data.shape == (1, 28, 30)
        assert res.cams.data.shape == (K, 28, 30)
        absent = [k for k in range(K) if k + 1 not in data['data_samples'][i].metainfo['img_labels']]
        assert (res.cams.data[absent] == 0).all()
        # argmax of the logits is the CAM segmentation at bg_thr, restricted to the labels
        expected = cams_to_seg(res.cams.data[None], None, 0.3)[0]
        assert torch.equal(res.pred_sem_seg.data[0], expected)
        assert torch.allclose(res.seg_logits.data.softmax(0).sum(0), torch.ones(28, 30))


def test_predict_without_labels_uses_classifier():
    model = MODELS.build(tiny_cfg(decode=False, test_cfg=dict(cam_scales=(0.5, 1.0)))).eval()
    torch.manual_seed(0)
    img = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        model.cam_head.classifier.weight.normal_(0, 1)  # make some classes confidently present
        out = model.predict(img)
        keep = model.cam_head(model.extract_feat(img))['cls_logits'].sigmoid() > 0.5
    assert keep.any() and not keep.all()
    for i in range(2):
        assert out[i].seg_logits.data.shape == (K + 1, 32, 32)
        assert (out[i].cams.data[~keep[i]] == 0).all()
        assert (out[i].cams.data[keep[i]].amax(dim=(1, 2)) > 0.9).all()


def test_predict_decoder_source_and_output_cams():
    model = MODELS.build(tiny_cfg(test_cfg=dict(output_cams=True))).eval()
    assert model.predict_source == 'decoder'
    data = preprocess(model, training=False)
    with torch.no_grad():
        out = model.predict(data['inputs'], data['data_samples'])
        raw = model._forward(data['inputs'])
    assert out[0].seg_logits.data.shape == (K + 1, 28, 30) and out[0].cams.data.shape == (K, 28, 30)
    assert raw.shape[1] == K + 1


def test_slide_inference_cams_and_segmentation_agree():
    model = MODELS.build(tiny_cfg(decode=False, test_cfg=dict(mode='slide', crop_size=(16, 16), stride=(12, 12),
                                                              bg_thr=0.3))).eval()
    data = preprocess(model, B=1, training=False, labels=((1, 3), ))
    with torch.no_grad():
        out = model.predict(data['inputs'], data['data_samples'])[0]
        whole = MODELS.build(tiny_cfg(decode=False)).eval()
        whole.load_state_dict(model.state_dict())
        out_whole = whole.predict(data['inputs'], copy.deepcopy(data['data_samples']))[0]
    assert out.seg_logits.data.shape == (K + 1, 28, 30) and out.cams.data.shape == (K, 28, 30)
    # the segmentation is the CAMs' segmentation, and one normalisation over the whole image: peak 1 per class
    assert torch.equal(out.pred_sem_seg.data[0], cams_to_seg(out.cams.data[None], None, 0.3)[0])
    assert torch.allclose(out.cams.data[[0, 2]].amax(dim=(1, 2)), torch.ones(2), atol=1e-3)
    assert not torch.allclose(out.cams.data, out_whole.cams.data)  # crops, not a whole-image pass


def test_flip_is_undone():
    model = MODELS.build(tiny_cfg(decode=False)).eval()
    img = torch.rand(1, 3, 32, 32)
    s = samples(1, 32, 32, labels=((1, 2), ))
    s_flip = samples(1, 32, 32, labels=((1, 2), ))
    s_flip[0].set_metainfo(dict(flip=True, flip_direction='horizontal'))
    with torch.no_grad():
        a = model.predict(img, s)[0].cams.data
        b = model.predict(img, s_flip)[0].cams.data
    # the same network input marked as a flipped view comes back mirrored to the original image
    assert torch.allclose(a.flip(-1), b)


def test_tta_model_merges():
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg(decode=False)).eval()
    with torch.no_grad():  # ResNet features are >= 0: positive weights give class 1 a CAM that is not all zero
        model.cam_head.classifier.weight.abs_()
    tta = MODELS.build(dict(type='WSSSTTAModel', module=model))
    views = []
    for flip in (False, True):
        s = samples(1, 32, 32, labels=((1, ), ))[0]
        s.set_metainfo(dict(flip=flip, flip_direction='horizontal', img_path='x.jpg'))
        s.gt_sem_seg = PixelData(data=torch.zeros(1, 32, 32, dtype=torch.long))
        views.append(s)
    img = torch.rand(3, 32, 32) * 255
    data = dict(inputs=[[img], [img.flip(-1)]], data_samples=[[views[0]], [views[1]]])
    out = tta.test_step(data)
    assert out[0].pred_sem_seg.shape == (32, 32)
    # CAMs of both views (each through the data preprocessor, restored to the original orientation) are averaged
    with torch.no_grad():
        a = model.test_step(dict(inputs=[img], data_samples=[copy.deepcopy(views[0])]))[0].cams.data
        b = model.test_step(dict(inputs=[img.flip(-1)], data_samples=[copy.deepcopy(views[1])]))[0].cams.data
    assert a.amax() > 0 and b.amax() > 0
    assert not torch.allclose(a, b, atol=1e-3)  # the flip matters: the average is not one view's
    assert torch.allclose(out[0].cams.data, (a + b) / 2, atol=1e-5)
    assert out[0].metainfo['img_labels'] == [1]  # the labels travel in the metainfo


def test_class_count_checks():
    cfg = tiny_cfg()
    cfg['decode_head']['num_classes'] = K + 2
    with pytest.raises(ValueError, match='must equal'):
        MODELS.build(cfg)
    model = MODELS.build(tiny_cfg())
    data = preprocess(model, labels=((1, 5), (2, )))
    with pytest.raises(ValueError, match=r'\[5\] are outside 1..3'):
        model.loss(data['inputs'], data['data_samples'])


def test_class_memory_update_and_checkpoint():
    from mmseg_wsss.models.utils import ClassMemory
    mem = ClassMemory(3, 2, momentum=0.5, init='zeros')
    mem.update(torch.tensor([[2., 4.], [0., 0.], [3., 3.]]), torch.tensor([2., 0., 1.]))
    assert torch.allclose(mem.bank, torch.tensor([[0.5, 1.0], [0., 0.], [1.5, 1.5]]))
    assert 'bank' in mem.state_dict()


def clip_backbone_cfg(**backbone):
    return tiny_cfg(decode=False, backbone=dict(dict(type='OpenCLIPImageEncoder', model_name='tiny', pretrained=None,
                                                     model_cfg=tiny_clip_cfg(layers=3)), **backbone),
                    cam_head=dict(type='CAMHead', in_channels=32, num_classes=K))


def test_one_freezing_rule_for_the_backbone():
    """``frozen`` on the backbone does what it does on encoders: no gradient, eval mode, no autograd, and, for a
    part that loads its own weights (a CLIP tower), out of checkpoints and refilled when one is loaded."""
    torch.manual_seed(0)
    model = MODELS.build(clip_backbone_cfg(frozen=True)).train()
    assert not model.backbone.training and not any(p.requires_grad for p in model.backbone.parameters())
    data = preprocess(model)
    ctx = model.build_context(data['inputs'], data['data_samples'])
    assert not ctx.feats[0].requires_grad  # run under no_grad
    state = model.state_dict()
    assert not any(k.startswith('backbone.') for k in state) and 'cam_head.classifier.weight' in state
    torch.manual_seed(0)  # the same tower "from its weights file"
    other = MODELS.build(clip_backbone_cfg(frozen=True))
    other.load_state_dict(state, strict=True)
    for k, v in dict(model.named_parameters()).items():
        assert torch.equal(v, dict(other.named_parameters())[k]), k
    assert any(k.startswith('backbone.') for k in MODELS.build(clip_backbone_cfg(frozen=True, in_checkpoint=True))
               .state_dict())
    # a trained tower's frozen leading blocks stay out too; what trains is saved
    part = MODELS.build(clip_backbone_cfg(train_blocks=1)).state_dict()
    assert 'backbone.visual.transformer.resblocks.2.attn.in_proj_weight' in part
    assert 'backbone.visual.transformer.resblocks.0.attn.in_proj_weight' not in part
    assert 'backbone.visual.ln_post.weight' in part and 'backbone.visual.conv1.weight' not in part
    # an mmseg backbone gets its weights from init_cfg, which a model built for testing never runs: kept
    resnet = MODELS.build(tiny_cfg(decode=False, backbone=dict(BACKBONE, frozen=True)))
    assert not any(p.requires_grad for p in resnet.backbone.parameters())
    assert 'backbone.conv1.weight' in resnet.state_dict()


def test_trainable_clip_backbone_exposes_block_tokens_to_terms():
    """DALNet-style access: a trained CLIP tower as the backbone, block tokens in ``ctx.extras['tokens']``, with
    gradients from a term back into the tower; layer-wise learning rates from the config."""
    model = MODELS.build(clip_backbone_cfg(token_blocks=(1, -1))).train()
    data = preprocess(model)
    ctx = model.build_context(data['inputs'], data['data_samples'])
    tokens = ctx.extras['tokens']
    assert sorted(tokens) == [1, 2] and tokens[1]['patches_proj'].shape == (2, 16, 32)
    (tokens[1]['cls_proj'].sum() + total(model.loss(data['inputs'], data['data_samples']))).backward()
    assert model.backbone.visual.conv1.weight.grad.abs().sum() > 0
    optim = build_optim_wrapper(model, dict(type='OptimWrapper', constructor='FrozenAwareOptimWrapperConstructor',
                                            optimizer=dict(type='AdamW', lr=1e-3),
                                            paramwise_cfg=dict(layer_decay=dict(module='backbone', rate=0.5))))
    lr = {id(p): g['lr'] for g in optim.optimizer.param_groups for p in g['params']}
    assert lr[id(model.backbone.visual.conv1.weight)] == pytest.approx(1e-3 * 0.5 ** 4)
    assert lr[id(model.cam_head.classifier.weight)] == pytest.approx(1e-3)


def test_tta_view_merge_max():
    """view_merge='max' (ToCo's, DALNet's test): per class and pixel the maximum of the views' probabilities."""
    from mmseg_wsss.models.segmentors.wsss_tta import WSSSTTAModel
    model = MODELS.build(tiny_cfg(decode=False)).eval()
    tta = WSSSTTAModel(module=model, view_merge='max')
    logits = torch.randn(2, 4, 5, 6)
    views = [SegDataSample(seg_logits=PixelData(data=logits[i])) for i in range(2)]
    for v in views:
        v.set_metainfo(dict(img_path='x.jpg'))
    probs = logits.softmax(1)
    want = probs.max(0)[0].argmax(0)
    assert torch.equal(tta.merge_preds([views])[0].pred_sem_seg.data[0], want)
    # a pixel where the two rules disagree: mean says class 1, max class 0
    p = torch.tensor([[0.6, 0.4, 1e-6, 1e-6], [1e-6, 0.45, 0.55, 1e-6]])
    views = [SegDataSample(seg_logits=PixelData(data=p[i].log()[:, None, None])) for i in range(2)]
    for v in views:
        v.set_metainfo(dict(img_path='x.jpg'))
    assert tta.merge_preds([views])[0].pred_sem_seg.data.item() == 0
    assert WSSSTTAModel(module=model).merge_preds([views])[0].pred_sem_seg.data.item() == 1
    with pytest.raises(ValueError, match='view_merge'):
        WSSSTTAModel(module=model, view_merge='median')


def test_tta_keep_probs_are_the_merged_probabilities():
    """keep_probs (make_pseudo_labels.py --tta): ``seg_probs`` is the mean (or max) of the views' softmax, and the
    CAMs the mean of the views' CAMs, taken before any CRF."""
    from mmseg_wsss.models.segmentors.wsss_tta import WSSSTTAModel
    model = MODELS.build(tiny_cfg(decode=False)).eval()
    logits, cams = torch.randn(3, 4, 5, 6), torch.rand(3, 3, 5, 6)
    def views():
        out = [SegDataSample(seg_logits=PixelData(data=logits[i]), cams=PixelData(data=cams[i])) for i in range(3)]
        for v in out:
            v.set_metainfo(dict(img_path='x.jpg'))
        return out

    for merge, want in (('mean', logits.softmax(1).mean(0)), ('max', logits.softmax(1).max(0)[0])):
        out = WSSSTTAModel(module=model, view_merge=merge, keep_probs=True).merge_preds([views()])[0]
        assert torch.allclose(out.seg_probs.data, want, atol=1e-6)
        assert torch.equal(out.pred_sem_seg.data[0], want.argmax(0))
        assert torch.allclose(out.cams.data, cams.mean(0))
    assert 'seg_probs' not in WSSSTTAModel(module=model).merge_preds([views()])[0]  # off for tools/test.py


def routed_cfg(**over):
    """A frozen tiny CLIP tower read by two heads: a TextCAMHead on the backbone's projected tokens with the
    `clip_text` prompts, and an FPN decoder on WeakCLIP's neck with the `text` prompts (the flagship's layout)."""
    clip = dict(model_name='tiny', pretrained=None, model_cfg=tiny_clip_cfg(layers=3))
    D = 32
    cfg = tiny_cfg(
        decode=False,
        backbone=dict(type='OpenCLIPImageEncoder', out_indices=(0, 1, 2, 2), proj_indices=(-1, ), frozen=True,
                      **clip),
        encoders=dict(clip_text=dict(type='OpenCLIPTextEncoder', class_names=['boat', 'cow', 'bird'], n_ctx=2,
                                     ctx_init='a photo', background_prompt='a photo of nothing.',
                                     learnable_bg=True, frozen=False, **clip),
                      text=dict(type='OpenCLIPTextEncoder', class_names=['background', 'boat', 'cow', 'bird'],
                                n_ctx=2, frozen=False, normalize=False, **clip)),
        text_encoder='text',
        neck=dict(type='TextGuidedNeck', in_index=(0, 1, 2, 3),
                  adapter=dict(type='CLIPPyramidAdapter', embed_dim=D, norm_cfg=dict(type='BN')),
                  matcher=dict(type='CoAttentionMatcher', embed_dim=D, width=8, num_heads=2),
                  fpn=dict(type='FPN', in_channels=[D + K + 1] * 4, out_channels=8, num_outs=4)),
        cam_head=dict(type='TextCAMHead', in_channels=D, num_classes=K, in_index=3, text_index=4,
                      feats_from='backbone', text_from='clip_text'),
        decode_head=dict(type='FPNHead', in_channels=[8] * 4, in_index=[0, 1, 2, 3], feature_strides=[4, 8, 16, 32],
                         channels=8, num_classes=K + 1, norm_cfg=dict(type='BN')),
        pseudo_labels=dict(cam=dict(type='CAMPseudoLabel', high_thr=0.55, low_thr=0.35)),
        losses=dict(cls=dict(type='CAMClassificationLoss'),
                    gia=dict(type='GIALoss', text='clip_text'),
                    seg=dict(type='DecodeLoss', labels='cam')),
        test_cfg=dict(source='decoder', output_cams=True))
    for key, value in over.items():
        if value is None:
            cfg.pop(key, None)
        else:
            cfg[key] = value
    return cfg


def test_heads_read_their_own_features_and_text():
    """feats_from / text_from: the CAM head reads the backbone's projected tokens with `clip_text`'s prompts
    (its CAMs are exactly relu(cos(patch token, class prompt))), the decoder reads the neck with `text`'s; each
    set of prompts gets gradients only from the parts that read it; the neck does not run for CAM-only views; at
    inference each text encoder runs once per batch."""
    import torch.nn.functional as F
    torch.manual_seed(0)
    model = MODELS.build(routed_cfg()).train()
    assert model.feats_from == dict(cam_head='backbone', decode_head='neck')
    assert model.text_from == dict(neck='text', cam_head='clip_text')  # FPNHead takes no text
    assert model.text_encoders == ['text', 'clip_text']
    data = preprocess(model, H=32, W=32)
    ctx = model.build_context(data['inputs'], data['data_samples'])
    assert len(ctx.backbone_feats) == 5 and len(ctx.feats) == 4 and ctx.feats[0].shape[1] == 8
    patches, (h, w) = ctx.extras['patches'], ctx.extras['grid']
    prompts = model.encoders['clip_text']()['class_embeddings']
    expected = F.normalize(patches, dim=-1) @ F.normalize(prompts, dim=-1).T            # B, N, K
    assert torch.allclose(ctx.cam_outputs['cam_logits'], expected.transpose(1, 2).reshape(2, K, h, w), atol=1e-5)
    assert torch.allclose(ctx.cams, ctx.cam_outputs['cam_logits'].relu(), atol=1e-6)
    # the CAMs' prompts: gradients from the CAM head and GIA, none from the decoder; the decoder's: the reverse
    enc_c, enc_t = model.encoders['clip_text'], model.encoders['text']
    ctx.cams.sum().backward(retain_graph=True)
    assert enc_c.ctx.grad.abs().sum() > 0 and enc_t.ctx.grad is None
    enc_c.ctx.grad = None
    ctx.seg_logits.sum().backward()
    assert enc_t.ctx.grad.abs().sum() > 0 and enc_c.ctx.grad is None
    model.zero_grad()
    set_iter(0)
    losses = model.loss(data['inputs'], data['data_samples'])
    losses['gia.loss'].backward()
    assert enc_c.ctx.grad.abs().sum() > 0 and enc_c.background.grad.abs().sum() > 0
    # CAM-only views (other scales, CAM inference) skip the neck
    neck_calls = count_calls(model.neck)
    model.run_cam_head(data['inputs'], ctx.texts, 'cams')
    assert not neck_calls
    # inference: decoder logits from the neck, CAMs from the backbone, each text encoder once
    model.eval()
    runs = {n: count_calls(model.encoders[n].clip.transformer) for n in ('text', 'clip_text')}
    with torch.no_grad():
        out = model.predict(data['inputs'], samples(2, 32, 32))
    assert out[0].seg_logits.data.shape == (K + 1, 32, 32) and out[0].cams.data.shape == (K, 32, 32)
    assert {n: len(c) for n, c in runs.items()} == dict(text=1, clip_text=1)


def test_routing_mistakes_fail_at_build_naming_the_part():
    bad = [
        (dict(cam_head=dict(type='TextCAMHead', in_channels=32, num_classes=K, in_index=3, text_index=4,
                            feats_from='neck', text_from='clip_text'), neck=None,
              decode_head=None, pseudo_labels=None, losses=dict(cls=dict(type='CAMClassificationLoss'))),
         ValueError, r"cam_head \(TextCAMHead\) reads feats_from='neck', but the model has no neck"),
        (dict(cam_head=dict(type='TextCAMHead', in_channels=32, num_classes=K, in_index=3, text_index=4,
                            feats_from='backbones')),
         ValueError, r"cam_head \(TextCAMHead\): feats_from must be 'neck' or 'backbone'"),
        (dict(cam_head=dict(type='TextCAMHead', in_channels=32, num_classes=K, in_index=3, text_index=4,
                            feats_from='backbone', text_from='clip')),
         KeyError, r"cam_head \(TextCAMHead\) reads text_from='clip', which is not among encoders"),
        (dict(cam_head=dict(type='CAMHead', in_channels=32, num_classes=K, in_index=3, feats_from='backbone',
                            text_from='clip_text')),
         ValueError, r'cam_head \(CAMHead\) takes no text'),
    ]
    for over, err, msg in bad:
        with pytest.raises(err, match=msg):
            MODELS.build(routed_cfg(**over))
    neck = routed_cfg()['neck']
    with pytest.raises(ValueError, match='feats_from is for heads'):
        MODELS.build(routed_cfg(neck=dict(neck, feats_from='backbone')))
    # the neck's adapter takes 4 levels; without in_index it would receive the 5 maps: one line at the first batch
    model = MODELS.build(routed_cfg(neck={k: v for k, v in neck.items() if k != 'in_index'}))
    data = preprocess(model, H=32, W=32)
    with pytest.raises(ValueError, match='receives 5 backbone maps: pick them with in_index'):
        model.loss(data['inputs'], data['data_samples'])
