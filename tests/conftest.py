import importlib.util
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from PIL import Image

import mmseg_wsss  # noqa: F401  (registers everything, as configs do through custom_imports)

init_default_scope('mmseg')

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
TOY_CAM_CFG = osp.join(ROOT, 'configs/toy/cam_r18-tiny-d8_1xb8-2k_toy-112x112.py')
TOY_SEG_CFG = osp.join(ROOT, 'configs/toy/deeplabv3plus_r18-tiny-d8_1xb8-1k_toy-pseudo-112x112.py')
# toy class -> the VOC / COCO class it imitates (for building VOC- and COCO-layout fixtures from toy images)
TOY_TO_VOC = {1: 4, 2: 19, 3: 10, 4: 3, 5: 5}
TOY_TO_COCO = {1: 9, 2: 7, 3: 20, 4: 15, 5: 40}


def free_port() -> str:
    """A TCP port free on this machine now (the OS picks it), for a test's torchrun rendezvous: fixed ports
    collide with other runs on a shared machine."""
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def missing_toy_teachers(cfg) -> list:
    """The toy-teacher files (``data/toy_teachers/...``) a config (a Config or its path) loads that are not built
    in this checkout (``make toy-teachers`` builds them; the suite does not)."""
    import re
    from mmengine.config import Config
    text = (Config.fromfile(cfg) if isinstance(cfg, str) else cfg).pretty_text
    return sorted(t for t in set(re.findall(r'data/toy_teachers/[\w.]+', text)) if not osp.isfile(osp.join(ROOT, t)))


def load_tool(rel_path: str):
    """Import a script under tools/ as a module."""
    path = osp.join(ROOT, rel_path)
    spec = importlib.util.spec_from_file_location(osp.splitext(osp.basename(path))[0], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_tool(*args, timeout=600, check=True, env=None, cwd=ROOT):
    """Run a tool as a user would: ``python tools/x.py ...`` (or bash for .sh)."""
    cmd = ['bash', *args] if args[0].endswith('.sh') else [sys.executable, *args]
    full_env = dict(os.environ, **(env or {}))
    full_env.setdefault('PYTHON', sys.executable)
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env)
    if check and res.returncode != 0:
        raise AssertionError(f'{" ".join(args)} failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-5000:]}')
    return res


def toy_options(root: str, iters: int = 4, extra=()) -> list:
    """--cfg-options that point a toy config at ``root`` (the one ``data_root`` key moves every dataloader) and
    shorten training."""
    opts = [f'data_root={root}']
    opts += [f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
             f'default_hooks.checkpoint.interval={iters}', 'default_hooks.logger.interval=1']
    return ['--cfg-options', *opts, *extra]


@pytest.fixture(scope='session')
def toy_root(tmp_path_factory):
    """A small generated toy dataset (5 classes, 64 px) shared by the whole session."""
    out = str(tmp_path_factory.mktemp('data') / 'toy_voc')
    load_tool('tools/dataset_converters/make_toy_voc.py').main(
        ['--out', out, '--num-train', '24', '--num-val', '8', '--size', '64', '--seed', '1'])
    return out


def _relabel(src_png: str, mapping: dict) -> np.ndarray:
    m = np.array(Image.open(src_png))
    out = m.copy()
    for k, v in mapping.items():
        out[m == k] = v
    return out


@pytest.fixture(scope='session')
def voc_like_root(toy_root, tmp_path_factory):
    """VOC 2012 layout with VOC class ids, made from toy images (for building the real VOC configs)."""
    from mmseg_wsss.datasets import write_label_file
    from mmseg_wsss.utils.class_names import VOC12_CLASSES
    root = tmp_path_factory.mktemp('voc') / 'VOC2012'
    shutil.copytree(osp.join(toy_root, 'JPEGImages'), root / 'JPEGImages')
    (root / 'SegmentationClassAug').mkdir()
    (root / 'ImageSets' / 'Segmentation').mkdir(parents=True)
    labels = {}
    toy_labels = json.load(open(osp.join(toy_root, 'cls_labels.json')))['labels']
    for img_id, ids in toy_labels.items():
        m = _relabel(osp.join(toy_root, 'SegmentationClass', img_id + '.png'), TOY_TO_VOC)
        Image.fromarray(m).save(root / 'SegmentationClassAug' / (img_id + '.png'))
        labels[img_id] = [TOY_TO_VOC[i] for i in ids]
    train = sorted(k for k in labels if k.startswith('train'))
    val = sorted(k for k in labels if k.startswith('val'))
    for name, ids in (('train_aug', train), ('train', train[:8]), ('val', val)):
        (root / 'ImageSets' / 'Segmentation' / f'{name}.txt').write_text('\n'.join(ids) + '\n')
    write_label_file(str(root / 'cls_labels.json'), VOC12_CLASSES, labels)
    return str(root)


@pytest.fixture(scope='session')
def coco_like_root(toy_root, tmp_path_factory):
    """COCO 2014 layout (our converter's) with contiguous COCO ids, made from toy images."""
    from mmseg_wsss.datasets import write_label_file
    from mmseg_wsss.utils.class_names import COCO14_CLASSES
    root = tmp_path_factory.mktemp('coco') / 'coco2014'
    labels = {}
    toy_labels = json.load(open(osp.join(toy_root, 'cls_labels.json')))['labels']
    for split, prefix in (('train2014', 'train'), ('val2014', 'val')):
        (root / 'images' / split).mkdir(parents=True)
        (root / 'masks' / split).mkdir(parents=True)
        ids = sorted(k for k in toy_labels if k.startswith(prefix))
        for img_id in ids:
            shutil.copy(osp.join(toy_root, 'JPEGImages', img_id + '.jpg'), root / 'images' / split / (img_id + '.jpg'))
            m = _relabel(osp.join(toy_root, 'SegmentationClass', img_id + '.png'), TOY_TO_COCO)
            Image.fromarray(m).save(root / 'masks' / split / (img_id + '.png'))
            labels[img_id] = [TOY_TO_COCO[i] for i in toy_labels[img_id]]
        (root / f'{split}.txt').write_text('\n'.join(ids) + '\n')
    write_label_file(str(root / 'cls_labels.json'), COCO14_CLASSES, labels)
    return str(root)
