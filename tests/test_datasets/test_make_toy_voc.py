import glob
import hashlib
import json
import os.path as osp

import numpy as np
from PIL import Image

from tests.conftest import load_tool


def digest(root):
    h = hashlib.sha256()
    for sub in ('JPEGImages', 'SegmentationClass'):
        for name in sorted(__import__('os').listdir(osp.join(root, sub))):
            h.update(open(osp.join(root, sub, name), 'rb').read())
    h.update(open(osp.join(root, 'cls_labels.json'), 'rb').read())
    return h.hexdigest()


def test_layout_and_determinism(tmp_path):
    gen = load_tool('tools/dataset_converters/make_toy_voc.py')
    args = ['--num-train', '6', '--num-val', '2', '--size', '48', '--num-classes', '3', '--seed', '7']
    gen.main(['--out', str(tmp_path / 'a'), *args])
    gen.main(['--out', str(tmp_path / 'b'), *args])
    gen.main(['--out', str(tmp_path / 'c'), *args[:-1], '8'])
    a = str(tmp_path / 'a')
    assert digest(a) == digest(str(tmp_path / 'b'))
    assert digest(a) != digest(str(tmp_path / 'c'))
    meta = json.load(open(osp.join(a, 'meta.json')))
    assert meta['classes'] == ['background', 'boat', 'train', 'cow']
    assert open(osp.join(a, 'ImageSets/Segmentation/train.txt')).read().split() == [f'train_{i:05d}' for i in range(6)]
    img = Image.open(osp.join(a, 'JPEGImages/train_00000.jpg'))
    mask = np.array(Image.open(osp.join(a, 'SegmentationClass/train_00000.png')))
    assert img.size == (48, 48) and mask.shape == (48, 48)
    assert set(np.unique(mask)) <= {0, 1, 2, 3, 255}


def test_several_objects_and_not_a_colour_threshold(toy_root):
    labels = json.load(open(osp.join(toy_root, 'cls_labels.json')))['labels']
    assert any(len(v) >= 2 for v in labels.values())
    imgs, fgs = [], []
    for img_id in labels:
        imgs.append(np.array(Image.open(osp.join(toy_root, 'JPEGImages', img_id + '.jpg'))).reshape(-1, 3))
        m = np.array(Image.open(osp.join(toy_root, 'SegmentationClass', img_id + '.png'))).reshape(-1)
        fgs.append(m)
    px, gt = np.concatenate(imgs).astype(float), np.concatenate(fgs)
    valid = gt != 255
    px, fg = px[valid], gt[valid] > 0
    channels = {'R': px[:, 0], 'G': px[:, 1], 'B': px[:, 2], 'gray': px.mean(1)}
    best = 0.0
    for values in channels.values():
        for t in range(0, 256, 8):
            for pred in (values > t, values <= t):
                best = max(best, (pred & fg).sum() / max((pred | fg).sum(), 1))
    # the best single colour threshold separates objects from background poorly
    assert best < 0.35, best


def test_context_masks_mark_uncovered_context(toy_root):
    """ContextMask: the co-occurring context band (water / rails / grass) where no object covers it."""
    seen = 0
    for png in sorted(glob.glob(osp.join(toy_root, 'ContextMask', '*.png'))):
        ctx = np.array(Image.open(png)).astype(bool)
        gt = np.array(Image.open(osp.join(toy_root, 'SegmentationClass', osp.basename(png))))
        assert not (ctx & (gt > 0) & (gt < 255)).any()  # never under an object
        if ctx.any():
            seen += 1
            rows = np.nonzero(ctx.any(1))[0]
            assert rows.max() == ctx.shape[0] - 1  # a bottom band
    assert seen > 0
