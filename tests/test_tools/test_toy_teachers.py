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
from toy_corpus import caption, make_corpus  # noqa: E402


def test_corpus_captions_and_context_only_scenes():
    images, captions, meta, classes = make_corpus(120, 64, 5, seed=0)
    assert images.shape == (120, 64, 64, 3) and images.dtype == np.uint8
    assert caption([0, 2], 'water', classes) == 'a photo of a boat and a cow on water.'
    assert caption([], 'rails', classes) == 'a photo of rails.'
    context_only = [m for m in meta if not m['present']]
    assert context_only and all(m['context'] in ('water', 'rails', 'grass') for m in context_only)
    for cap, m in zip(captions, meta):
        assert all(f'a {classes[c]}' in cap for c in m['present'])
        assert m['context'] is None or f'{m["context"]}.' in cap
    # its own random stream: not the WSSS generator's for the same integer seed
    again, _, _, _ = make_corpus(120, 64, 5, seed=0)
    other, _, _, _ = make_corpus(120, 64, 5, seed=1)
    assert np.array_equal(images, again) and not np.array_equal(images, other)


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
            '--batch', '16']
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
    assert 'toy-clip step 3/3' in res.stdout
