import pytest
import torch
import torch.nn as nn
from mmengine.logging import MessageHub
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmseg_wsss  # noqa: F401
from mmseg_wsss.utils.cam_ops import cams_to_seg

K = 3  # foreground classes


@MODELS.register_module(force=True)
class _MeanCAMGuide(nn.Module):
    """Test-only guide: a loss on the CAMs, to exercise weights and start iterations."""

    def forward(self, ctx):
        return dict(loss_area=ctx.cams.mean(), area=ctx.cams.mean().detach())


def tiny_cfg(decode=True, guides=True, **kw):
    backbone = dict(type='ResNet', depth=18, stem_channels=8, base_channels=8, out_indices=(3, ),
                    strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), norm_cfg=dict(type='BN'))
    cfg = dict(
        type='WSSSSegmentor',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0], std=[1, 1, 1], size=(32, 32)),
        backbone=backbone,
        cam_head=dict(type='CAMHead', in_channels=64, num_classes=K),
        test_cfg=dict(bg_thr=0.3))
    if decode:
        cfg['decode_head'] = dict(type='FCNHead', in_channels=64, in_index=-1, channels=16, num_convs=1,
                                  num_classes=K + 1, loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0))
        cfg['pseudo_labels'] = [dict(type='CAMPseudoLabel', high_thr=0.55, low_thr=0.35, start_iter=5,
                                     loss_weight=0.5)]
    if guides:
        cfg['guides'] = [dict(type='_MeanCAMGuide', loss_weight=2.0, start_iter=0, name='area')]
    cfg.update(kw)
    return cfg


def samples(B=2, H=28, W=30, labels=((1, 3), (2, ))):
    out = []
    for b in range(B):
        s = SegDataSample(metainfo=dict(img_shape=(H, W), ori_shape=(H, W), img_labels=list(labels[b])))
        multi_hot = torch.zeros(K + 1)
        multi_hot[0] = 1
        multi_hot[list(labels[b])] = 1
        s.gt_img_labels = multi_hot
        out.append(s)
    return out


def preprocess(model, B=2, H=28, W=30, training=True, labels=((1, 3), (2, ))):
    data = dict(inputs=[torch.rand(3, H, W) * 255 for _ in range(B)], data_samples=samples(B, H, W, labels))
    return model.data_preprocessor(data, training)


def set_iter(i):
    MessageHub.get_current_instance().update_info('iter', i)


def test_loss_terms_weights_and_start_iters():
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg())
    model.train()
    data = preprocess(model)
    set_iter(0)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert set(losses) >= {'loss_cls', 'decode_cam.loss_ce', 'area.loss_area', 'area.area'}
    assert losses['decode_cam.loss_ce'] == 0  # before start_iter=5: not computed
    assert torch.allclose(losses['area.loss_area'], 2.0 * losses['area.area'])  # weight applied
    set_iter(5)
    torch.manual_seed(0)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert losses['decode_cam.loss_ce'] > 0
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert model.decode_head.conv_seg.weight.grad is not None
    assert model.cam_head.classifier.weight.grad.abs().sum() > 0
    set_iter(0)


def test_pseudo_labels_ignore_padding_and_absent_classes():
    model = MODELS.build(tiny_cfg(guides=False))
    data = preprocess(model, H=28, W=30)  # padded to 32 x 32
    set_iter(10)
    seen = {}
    orig = model.decode_head.loss

    def spy(feats, samples_, train_cfg):
        seen['labels'] = torch.stack([s.gt_sem_seg.data for s in samples_])
        return orig(feats, samples_, train_cfg)

    model.decode_head.loss = spy
    model.loss(data['inputs'], data['data_samples'])
    labels = seen['labels'][:, 0]
    assert labels.shape == (2, 32, 32)
    assert (labels[:, 28:, :] == 255).all() and (labels[:, :, 30:] == 255).all()
    # image 1 is labelled {2} only: no other foreground class may appear
    assert set(labels[1].unique().tolist()) <= {0, 2, 255}
    assert set(labels[0].unique().tolist()) <= {0, 1, 3, 255}
    set_iter(0)


def test_predict_cam_source():
    model = MODELS.build(tiny_cfg(decode=False, guides=False)).eval()
    data = preprocess(model, training=False, labels=((2, ), (1, 3)))
    with torch.no_grad():
        out = model.predict(data['inputs'], data['data_samples'])
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
    model = MODELS.build(tiny_cfg(decode=False, guides=False, test_cfg=dict(cam_scales=(0.5, 1.0)))).eval()
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
    model = MODELS.build(tiny_cfg(guides=False, test_cfg=dict(output_cams=True))).eval()
    assert model.predict_source == 'decoder'
    data = preprocess(model, training=False)
    with torch.no_grad():
        out = model.predict(data['inputs'], data['data_samples'])
    assert out[0].seg_logits.data.shape == (K + 1, 28, 30) and out[0].cams.data.shape == (K, 28, 30)


def test_slide_inference_with_cams():
    model = MODELS.build(tiny_cfg(decode=False, guides=False,
                                  test_cfg=dict(mode='slide', crop_size=(16, 16), stride=(12, 12)))).eval()
    data = preprocess(model, B=1, training=False, labels=((1, ), ))
    with torch.no_grad():
        out = model.predict(data['inputs'], data['data_samples'])
    assert out[0].seg_logits.data.shape == (K + 1, 28, 30) and out[0].cams.data.shape == (K, 28, 30)


def test_flip_is_undone():
    model = MODELS.build(tiny_cfg(decode=False, guides=False)).eval()
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
    model = MODELS.build(tiny_cfg(decode=False, guides=False)).eval()
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
    # CAMs of both views (already restored to the original orientation) are averaged
    with torch.no_grad():
        a = model.predict(img[None], [views[0]])[0].cams.data
        b = model.predict(img.flip(-1)[None], [views[1]])[0].cams.data
    assert torch.allclose(out[0].cams.data, (a + b) / 2, atol=1e-5)
    assert torch.equal(out[0].gt_img_labels, views[0].gt_img_labels)


def test_class_count_checks():
    cfg = tiny_cfg(guides=False)
    cfg['decode_head']['num_classes'] = K + 2
    with pytest.raises(ValueError, match='must equal'):
        MODELS.build(cfg)
    model = MODELS.build(tiny_cfg(guides=False))
    data = preprocess(model)
    for s in data['data_samples']:
        s.gt_img_labels = torch.ones(K + 3)
    with pytest.raises(ValueError, match='dataset has 6 classes but the model has 4'):
        model.loss(data['inputs'], data['data_samples'])


def test_decoder_needs_pseudo_labels():
    cfg = tiny_cfg(guides=False)
    cfg.pop('pseudo_labels')
    with pytest.raises(ValueError, match='pseudo-label generator'):
        MODELS.build(cfg)
