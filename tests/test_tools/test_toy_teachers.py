"""The toy teachers' builder at test scale: corpus, contrastive training, the saved file loading through the same
`pretrained=` path as real CLIP weights, the report and the stamp (the real build is `make toy-teachers`)."""
import json
import os.path as osp
import sys

import numpy as np
import torch
from mmseg.registry import MODELS

from tests.conftest import ROOT, load_tool, run_tool

sys.path.insert(0, osp.join(ROOT, 'tools', 'toy_teachers'))
from toy_corpus import EMPTY_CAPTION, GREY, caption, make_corpus, mask_scene, visible  # noqa: E402


def test_corpus_captions_and_context_only_scenes():
    images, captions, meta, classes = make_corpus(120, 64, 5, seed=0)
    assert images.shape == (120, 64, 64, 3) and images.dtype == np.uint8
    assert caption([0, 2], 'water', classes) == 'a photo of a boat and a cow on water.'
    assert caption([], 'rails', classes) == 'a photo of rails.'
    context_only = [m for m in meta if not m['present']]
    assert context_only and all(m['context'] in ('water', 'rails', 'grass', None) for m in context_only)
    # a context band is named unless the crop left less than 30 % of it in view
    assert np.mean([m['context'] is not None for m in context_only]) > 0.5
    for cap, m in zip(captions, meta):
        assert all(f'a {classes[c]}' in cap for c in m['present'])
        assert m['context'] is None or f'{m["context"]}.' in cap
    # its own random stream: not the WSSS generator's for the same integer seed
    again, _, _, _ = make_corpus(120, 64, 5, seed=0)
    other, _, _, _ = make_corpus(120, 64, 5, seed=1)
    assert np.array_equal(images, again) and not np.array_equal(images, other)


def test_masked_scenes_are_grey_where_hidden_and_captioned_by_what_stays_visible():
    images, captions, meta, _ = make_corpus(60, 64, 5, seed=0, masked=1.0)
    assert all(m['masked'] for m in meta) and EMPTY_CAPTION in captions
    grey = np.abs(images.astype(float) - GREY).max(-1) < 10
    # masked scenes show the mean grey (unless the crop happened to leave the painted region out of view)
    assert np.mean([g.mean() > 0.02 for g in grey]) > 0.9
    # mask_scene paints exactly 1 - keep of the mean grey over the image
    rng = np.random.default_rng(0)
    img = np.full((32, 32, 3), 200, np.uint8)
    label = np.zeros((32, 32), np.uint8)
    label[8:24, 8:24] = 1
    out, keep = mask_scene(rng, img, label, [0])
    expect = 200 * keep[..., None] + GREY * (1 - keep[..., None])
    assert np.abs(out - expect).max() < 8  # the grey carries +-2 levels of noise per channel
    # visibility: >= 50% of an object unmasked and inside the crop names it; >= 30% of the context band
    band = np.zeros((32, 32), bool)
    band[26:] = True
    keep = np.ones((32, 32), np.float32)
    assert visible(keep, (0, 0, 32), label, [0], band, 'water') == ([0], 'water')
    keep[8:18] = 0  # 10 of the object's 16 rows hidden
    assert visible(keep, (0, 0, 32), label, [0], band, 'water') == ([], 'water')
    assert visible(np.ones_like(keep), (0, 0, 14), label, [0], band, 'water') == ([], None)  # cropped away
    assert caption([], None, ['boat']) == EMPTY_CAPTION


def test_contrastive_loss_treats_repeated_captions_as_positives():
    build = load_tool('tools/toy_teachers/build_toy_teachers.py')
    torch.manual_seed(0)
    model = build.open_clip.create_model('toy-clip')
    images, captions, _, _ = make_corpus(6, 64, 5, seed=0)
    tokenizer = build.open_clip.get_tokenizer('toy-clip')
    ids = torch.tensor([0, 1, 0, 2, 3, 1])  # 0 and 1 repeat
    x = build.to_input(images)
    loss = build.clip_loss(model, x, tokenizer([captions[i] for i in ids]), ids)
    img = torch.nn.functional.normalize(model.encode_image(x), dim=-1)
    txt = torch.nn.functional.normalize(model.encode_text(tokenizer([captions[i] for i in ids])), dim=-1)
    logits = model.logit_scale.exp() * img @ txt.t()
    same = (ids[:, None] == ids[None]).float()
    ref = 0
    for lg in (logits, logits.t()):
        ref = ref + sum(-(same[i] / same[i].sum() * lg[i].log_softmax(0)).sum() for i in range(6)) / 6
    assert torch.allclose(loss, ref / 2, atol=1e-5)
    loss.backward()
    assert model.visual.conv1.weight.grad.abs().sum() > 0


def test_build_small_and_load_as_pretrained(tmp_path):
    out = tmp_path / 'teachers'
    args = ['tools/toy_teachers/build_toy_teachers.py', '--out', str(out), '--corpus-size', '96', '--steps', '3',
            '--batch', '16', '--dino-corpus-size', '40', '--dino-steps', '2', '--dino-batch', '8',
            '--mit-images', '8', '--mit-iters', '2']
    res = run_tool(*args)
    report = json.load(open(out / 'toy_clip_report.json'))
    assert 0 <= report['zero_shot_accuracy'] <= 1 and set(report['context_only']) <= {'water', 'rails', 'grass'}
    assert 'up to date' in run_tool(*args).stdout  # the stamp: a rerun does nothing
    # the file loads through the same path as real weights: model_name + pretrained
    enc = MODELS.build(dict(type='OpenCLIPImageEncoder', model_name='toy-clip', pretrained=str(out / 'toy_clip.pt')))
    saved = torch.load(out / 'toy_clip.pt', map_location='cpu')
    assert torch.equal(enc.visual.conv1.weight, saved['visual.conv1.weight'])
    txt = MODELS.build(dict(type='OpenCLIPTextEncoder', model_name='toy-clip', pretrained=str(out / 'toy_clip.pt'),
                            class_names=['boat', 'train'], templates='clims'))
    assert txt()['class_embeddings'].shape == (2, 128)
    assert 'toy-clip step 3/3' in res.stdout and 'toy-dino step 2/2' in res.stdout
    # toy-dino loads through the loader of dino_deitsmall8_pretrain.pth
    dino = MODELS.build(dict(type='DINOViTEncoder', arch='toy-dino', checkpoint=str(out / 'toy_dino.pth')))
    saved = torch.load(out / 'toy_dino.pth', map_location='cpu')
    assert torch.equal(dino.vit.patch_embed.proj.weight, saved['patch_embed.proj.weight'])
    dreport = json.load(open(out / 'toy_dino_report.json'))
    assert set(dreport['trained']) >= {'affinity_auc', 'foreground_cue_auc', 'best_f1_gamma'}
    assert 'untrained' in dreport
    # toy-mit: the toy MiT backbone, loaded through the AFA / ECA toy twins' init_cfg
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, 'configs/toy/afa_mit-tiny_1xb8-2k_toy-112x112.py'))
    cfg.model.backbone.init_cfg.checkpoint = str(out / 'toy_mit.pth')
    net = MODELS.build(cfg.model.backbone)
    net.init_weights()
    saved = torch.load(out / 'toy_mit.pth', map_location='cpu')
    assert torch.equal(net.layers[0][0].projection.weight, saved['layers.0.0.projection.weight'])
    assert 'val_cam_miou' in json.load(open(out / 'toy_mit_report.json'))
    # one teacher's stamp changes without rebuilding the other
    again = run_tool(*args[:-6], '--dino-batch', '4', '--mit-images', '8', '--mit-iters', '2', '--only',
                     'toy_dino').stdout
    assert 'toy-dino step 2/2' in again and 'toy-clip step' not in again


def test_dense_key_loss_pairs_corresponding_points():
    """View 2 is view 1 shifted right by one patch: view 1's patch (i, j) is view 2's patch (i, j - 1); with keys
    laid out that way the loss is near its minimum, and any other layout costs more."""
    from toy_dino import dense_key_loss
    B, g = 2, 4
    n = g * g
    k1 = torch.eye(B * n, 2 * B * n)[:, :].reshape(B, n, -1)  # every patch of every image a distinct unit key
    box1 = torch.tensor([[0., 0., 32., 32.]] * B)
    box2 = box1 + torch.tensor([8., 0., 8., 0.])  # one patch (32 / 4 px) to the right
    idx = torch.arange(n).reshape(g, g)
    k2 = torch.zeros_like(k1)
    k2[:, idx[:, :-1].reshape(-1)] = k1[:, idx[:, 1:].reshape(-1)]  # view-2 column j-1 holds view-1 column j
    loss = dense_key_loss(k1, k2, box1, box2, g, tau=0.2)
    shuffled = dense_key_loss(k1, k2[:, torch.randperm(n)], box1, box2, g, tau=0.2)
    # only interior columns 1..2 of view 1 land strictly inside view 2; their positives are exact (logit 5), and
    # negatives (the other image's keys) are orthogonal (logit 0)
    ref = torch.log1p(torch.tensor(n * float(torch.exp(torch.tensor(-5.0)))))
    assert torch.allclose(loss, ref, atol=1e-4) and shuffled > loss + 1


def _dense():
    return load_tool('tools/toy_teachers/build_toy_clip_dense.py')


def test_dense_patch_targets_and_auc():
    dense = _dense()
    lab = np.zeros((1, 8, 8), np.uint8)
    lab[0, :4, :4] = 2  # patch (0, 0): class 1 (index + 1 = 2) whole
    lab[0, :4, 4:] = 1
    lab[0, 3, 4:] = 0   # patch (0, 1): class 0 on 12 of 16 pixels (>= 0.5)
    lab[0, 4:, :4] = 0
    lab[0, 4, 0] = 3    # patch (1, 0): one object pixel of 16: mixed, no target
    t = dense.patch_targets(lab, 4, num_classes=5)
    assert t.tolist() == [[2, 1, dense.IGNORE, 0]]
    assert dense.patch_targets(lab, 4, 5, min_fraction=0.9).tolist() == [[2, dense.IGNORE, dense.IGNORE, 0]]
    s = torch.tensor([0.9, 0.8, 0.1, 0.8])
    assert dense.rank_auc(s, torch.tensor([True, False, False, False])) == 1.0
    assert dense.rank_auc(s, torch.tensor([False, True, False, False])) == (1 + 0.5 + 0) / 3  # a tie: one half
    assert np.isnan(dense.rank_auc(s, torch.ones(4, dtype=torch.bool)))


def test_dense_patch_text_loss_is_patchwise_cross_entropy():
    import open_clip
    import torch.nn.functional as F
    dense = _dense()
    torch.manual_seed(0)
    model = open_clip.create_model('toy-clip')
    tok = open_clip.get_tokenizer('toy-clip')(['a photo of nothing.', 'a photo of a boat.', 'a photo of a cow.'])
    x = torch.randn(2, 3, 64, 64)
    targets = torch.randint(0, 3, (2, 64))
    targets[0, :10] = dense.IGNORE
    loss, pooled = dense.dense_patch_text_loss(model, x, targets, tok)
    assert not model.visual.output_tokens  # reset: the saved model is the plain toy-clip
    # transcription: ln_post(final patch tokens) @ proj, cosine to the texts, times CLIP's logit scale
    v = model.visual
    h = v.transformer(v._embeds(x))
    patches = F.normalize(v.ln_post(h)[:, 1:] @ v.proj, dim=-1)
    text = F.normalize(model.encode_text(tok), dim=-1)
    logits = model.logit_scale.exp() * patches @ text.t()
    keep = targets != dense.IGNORE
    ref = -logits.log_softmax(-1).gather(-1, targets.clamp_min(0)[..., None])[..., 0][keep].mean()
    assert torch.allclose(loss, ref, atol=1e-5) and torch.allclose(pooled, model.encode_image(x), atol=1e-5)
    loss.backward()
    assert v.conv1.weight.grad.abs().sum() > 0 and model.transformer.resblocks[0].attn.in_proj_weight.grad is not None


def test_dense_teacher_builds_small_and_loads_as_pretrained(tmp_path):
    dense = _dense()
    out = tmp_path / 'teachers'
    args = ['--out', str(out), '--corpus-size', '64', '--steps', '2', '--batch', '8', '--eval-images', '6']
    dense.main(args)
    report = json.load(open(out / 'toy_clip_dense_report.json'))
    auc = report['patch_text_auc']['toy_clip_dense']
    assert 0 <= auc['final'] <= 1 and 0 <= auc['block_1'] <= 1 and auc['pairs'] > 0
    assert 'toy_clip' not in report['patch_text_auc']  # no plain toy-clip in OUT to compare with
    stamp = json.load(open(out / 'toy_clip_dense_stamp.json'))['stamp']
    mtime = (out / 'toy_clip_dense.pt').stat().st_mtime_ns
    dense.main(args)  # the stamp: a rerun does nothing
    assert (out / 'toy_clip_dense.pt').stat().st_mtime_ns == mtime
    assert json.load(open(out / 'toy_clip_dense_stamp.json'))['stamp'] == stamp
    enc = MODELS.build(dict(type='OpenCLIPImageEncoder', model_name='toy-clip',
                            pretrained=str(out / 'toy_clip_dense.pt')))
    saved = torch.load(out / 'toy_clip_dense.pt', map_location='cpu')
    assert torch.equal(enc.visual.conv1.weight, saved['visual.conv1.weight'])
