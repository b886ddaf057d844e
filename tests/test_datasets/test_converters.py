import json
import os.path as osp

import numpy as np
from PIL import Image
from scipy.io import savemat

from mmseg_wsss.datasets import read_label_file
from mmseg_wsss.utils.class_names import COCO14_CLASSES, VOC12_CLASSES
from tests.conftest import run_tool


def _mask(h, w, cls, box):
    m = np.zeros((h, w), np.uint8)
    y0, y1, x0, x1 = box
    m[y0:y1, x0:x1] = cls
    return m


def test_voc_aug(tmp_path):
    devkit, sbd = tmp_path / 'VOCdevkit', tmp_path / 'benchmark_RELEASE'
    voc = devkit / 'VOC2012'
    for d in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
        (voc / d).mkdir(parents=True)
    (sbd / 'dataset' / 'cls').mkdir(parents=True)
    # a: VOC train (+SBD train), b: VOC val (+SBD val, must be excluded), c: SBD train, d: SBD val
    (voc / 'ImageSets/Segmentation/train.txt').write_text('a\n')
    (voc / 'ImageSets/Segmentation/val.txt').write_text('b\n')
    (sbd / 'dataset/train.txt').write_text('a\nc\n')
    (sbd / 'dataset/val.txt').write_text('d\nb\n')
    masks = {'a': _mask(20, 30, 15, (2, 10, 3, 12)), 'b': _mask(20, 30, 3, (0, 5, 0, 5)),
             'c': _mask(20, 30, 19, (5, 15, 5, 25)), 'd': _mask(20, 30, 7, (1, 4, 1, 4))}
    masks['a'][2, 3:12] = 255  # VOC's boundary ring survives
    masks['d'][10:12, 10:12] = 12
    for k in 'abcd':
        Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(voc / 'JPEGImages' / f'{k}.jpg')
    for k in 'ab':
        Image.fromarray(masks[k]).save(voc / 'SegmentationClass' / f'{k}.png')
    for k in 'cd':
        savemat(sbd / 'dataset' / 'cls' / f'{k}.mat',
                {'GTcls': {'Segmentation': masks[k], 'CategoriesPresent': np.unique(masks[k])[1:]}})
    run_tool('tools/dataset_converters/voc_aug.py', str(devkit), str(sbd), '--nproc', '2')
    assert (voc / 'ImageSets/Segmentation/train_aug.txt').read_text().split() == ['a', 'c', 'd']
    for k in 'abcd':
        assert np.array_equal(np.array(Image.open(voc / 'SegmentationClassAug' / f'{k}.png')), masks[k])
    labels = read_label_file(str(voc / 'cls_labels.json'))
    assert labels['classes'] == list(VOC12_CLASSES)
    assert labels['labels'] == {'a': [15], 'b': [3], 'c': [19], 'd': [7, 12]}
    run_tool('tools/dataset_converters/voc_aug.py', str(devkit), str(sbd), '--nproc', '1')  # rerun
    assert read_label_file(str(voc / 'cls_labels.json')) == labels


def test_coco2014(tmp_path):
    coco = tmp_path / 'coco'
    (coco / 'annotations').mkdir(parents=True)
    for split in ('train2014', 'val2014'):
        (coco / split).mkdir()
    images = [dict(id=1, file_name='COCO_train2014_000000000001.jpg', height=20, width=30),
              dict(id=2, file_name='COCO_train2014_000000000002.jpg', height=20, width=30),
              dict(id=3, file_name='COCO_train2014_000000000003.jpg', height=10, width=10)]
    poly = lambda x0, y0, x1, y1: [[x0, y0, x1, y0, x1, y1, x0, y1]]  # noqa: E731
    anns = [
        # image 1: a big person (cat 1) with a small toothbrush (cat 90 -> id 80) on top; crowd region -> 255
        dict(id=1, image_id=1, category_id=1, segmentation=poly(0, 0, 20, 20), area=400, iscrowd=0,
             bbox=[0, 0, 20, 20]),
        dict(id=2, image_id=1, category_id=90, segmentation=poly(5, 5, 9, 9), area=16, iscrowd=0,
             bbox=[5, 5, 4, 4]),
        dict(id=3, image_id=1, category_id=18, segmentation=dict(counts=[420, 180], size=[20, 30]), area=0,
             iscrowd=1, bbox=[0, 0, 0, 0]),
        # image 2: a dog (cat 18 -> id 17)
        dict(id=4, image_id=2, category_id=18, segmentation=poly(20, 10, 29, 19), area=81, iscrowd=0,
             bbox=[20, 10, 9, 9]),
    ]  # image 3: no objects
    cats = [dict(id=i, name=n) for i, n in zip((1, 18, 90), ('person', 'dog', 'toothbrush'))]
    for split, imgs, a in (('train2014', images, anns), ('val2014', [], [])):
        json.dump(dict(images=imgs, annotations=a, categories=cats),
                  open(coco / 'annotations' / f'instances_{split}.json', 'w'))
    out = tmp_path / 'coco2014'
    run_tool('tools/dataset_converters/coco2014.py', str(coco), '--out', str(out), '--nproc', '2')
    labels = read_label_file(str(out / 'cls_labels.json'))
    assert labels['classes'] == list(COCO14_CLASSES) and len(labels['classes']) == 81
    assert COCO14_CLASSES[80] == 'toothbrush' and COCO14_CLASSES[17] == 'dog'
    # crowd regions are ignored (255) and do not make a class "present"; empty images are not listed
    assert labels['labels'] == {'COCO_train2014_000000000001': [1, 80], 'COCO_train2014_000000000002': [17]}
    assert (out / 'train2014.txt').read_text().split() == sorted(labels['labels'])
    m1 = np.array(Image.open(out / 'masks/train2014/COCO_train2014_000000000001.png'))
    assert m1[7, 7] == 80 and m1[15, 15] == 1 and m1[0, 25] == 255
    assert osp.islink(out / 'images' / 'train2014')


# COCO's 80 thing categories, written here from the COCO 2014 annotation files' category list, not from our
# tables: the names in category-id order, and the ten ids 1..90 that COCO leaves unused.
COCO_UNUSED_IDS = {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}


def test_coco_81_class_tables_against_coco_and_mmseg():
    """Our 81-class tables against two independent sources: mmseg's COCO-Stuff table (its first 80 names are the
    things in category-id order) and COCO's unused ids."""
    from mmseg.datasets import COCOStuffDataset

    from mmseg_wsss.utils.class_names import COCO14_CATEGORY_IDS, COCO14_THING_CLASSES
    assert COCO14_THING_CLASSES == tuple(COCOStuffDataset.METAINFO['classes'][:80])
    assert COCO14_CATEGORY_IDS == tuple(i for i in range(1, 91) if i not in COCO_UNUSED_IDS)
    assert COCO14_CLASSES[0] == 'background' and len(COCO14_CLASSES) == 81
    # the text prompts name the same class at the same index (WeakCLIP prompts background as class 0)
    from mmseg_wsss.models.clip.prompts import CLASS_NAME_TABLES
    assert CLASS_NAME_TABLES['coco14_bg'] == COCO14_CLASSES and CLASS_NAME_TABLES['coco14'] == COCO14_CLASSES[1:]


def test_coco2014_every_category_lands_on_its_class(tmp_path):
    """An annotation file with all 80 categories (listed in shuffled order, ids with COCO's gaps, names from
    mmseg's table): each object's pixels get the index of its own name in cls_labels.json's classes, and the
    dataset class reads the same table; a file whose names disagree with the ids stops with one line."""
    from mmseg.datasets import COCOStuffDataset

    from mmseg_wsss.datasets import COCO14WSSSDataset
    names = COCOStuffDataset.METAINFO['classes'][:80]
    ids = [i for i in range(1, 91) if i not in COCO_UNUSED_IDS]
    cats = [dict(id=i, name=n, supercategory='x') for i, n in zip(ids, names)]
    rng = np.random.default_rng(0)
    rng.shuffle(cats)
    coco = tmp_path / 'coco'
    (coco / 'annotations').mkdir(parents=True)
    (coco / 'train2014').mkdir()
    images, anns = [], []
    for k, cat in enumerate(cats):  # 20 images, 4 objects each, in four 10 x 10 quadrants of a 20 x 20 image
        img_id, q = k // 4 + 1, k % 4
        if q == 0:
            images.append(dict(id=img_id, file_name=f'COCO_train2014_{img_id:012d}.jpg', height=20, width=20))
        x0, y0 = 10 * (q % 2), 10 * (q // 2)
        anns.append(dict(id=k + 1, image_id=img_id, category_id=cat['id'], iscrowd=0, area=64,
                         bbox=[x0 + 1, y0 + 1, 8, 8],
                         segmentation=[[x0 + 1, y0 + 1, x0 + 9, y0 + 1, x0 + 9, y0 + 9, x0 + 1, y0 + 9]]))
    json.dump(dict(images=images, annotations=anns, categories=cats),
              open(coco / 'annotations' / 'instances_train2014.json', 'w'))
    out = tmp_path / 'coco2014'
    run_tool('tools/dataset_converters/coco2014.py', str(coco), '--out', str(out), '--splits', 'train2014',
             '--nproc', '1')
    table = read_label_file(str(out / 'cls_labels.json'))
    classes = table['classes']
    assert tuple(classes) == COCO14WSSSDataset.METAINFO['classes']
    name_of = {c['id']: c['name'] for c in cats}
    for a in anns:
        img = next(i for i in images if i['id'] == a['image_id'])
        mask = np.array(Image.open(out / 'masks/train2014' / img['file_name'].replace('.jpg', '.png')))
        x, y = a['bbox'][0] + 4, a['bbox'][1] + 4
        assert classes[mask[y, x]] == name_of[a['category_id']]
        assert classes.index(name_of[a['category_id']]) in table['labels'][img['file_name'][:-4]]
    assert sorted(c for labs in table['labels'].values() for c in labs) == list(range(1, 81))
    # a file that is not COCO's categories (LVIS, a custom set) stops instead of writing misnamed masks
    bad = dict(images=images, annotations=anns, categories=[dict(c, name='thing') if c['id'] == 18 else c
                                                            for c in cats])
    json.dump(bad, open(coco / 'annotations' / 'instances_train2014.json', 'w'))
    res = run_tool('tools/dataset_converters/coco2014.py', str(coco), '--out', str(tmp_path / 'bad'), '--splits',
                   'train2014', '--nproc', '1', check=False)
    assert res.returncode != 0 and "category id 18 is 'thing', COCO's is 'dog'" in res.stderr
    assert not (tmp_path / 'bad').exists()  # stopped before writing anything


def _user_folder(toy_root, tmp_path, n=24, png_every=0):
    """A user's folder made from the toy set's images: nested names, CSV labels by class name, masks remapped to
    the converter's class order (sorted names)."""
    toy = read_label_file(osp.join(toy_root, 'cls_labels.json'))
    names = toy['classes']
    order = ['background'] + sorted(names[1:])
    remap = np.array([order.index(c) for c in names] + [0] * (256 - len(names)), np.uint8)
    remap[255] = 255
    imgs, masks = tmp_path / 'photos', tmp_path / 'masks'
    ids = sorted(toy['labels'])[:n]
    rows = ['image,labels']
    for i, iid in enumerate(ids):
        sub = 'a' if i % 2 else 'b'
        ext = '.png' if png_every and i % png_every == 0 else '.jpg'
        (imgs / sub).mkdir(parents=True, exist_ok=True)
        (masks / sub).mkdir(parents=True, exist_ok=True)
        Image.open(osp.join(toy_root, 'JPEGImages', iid + '.jpg')).save(imgs / sub / f'{iid}{ext}')
        m = np.array(Image.open(osp.join(toy_root, 'SegmentationClass', iid + '.png')))
        Image.fromarray(remap[m]).save(masks / sub / f'{iid}.png')
        rows.append(f'{sub}/{iid}{ext},' + ';'.join(names[c] for c in toy['labels'][iid]))
    (tmp_path / 'labels.csv').write_text('\n'.join(rows) + '\n')
    return imgs, masks, tmp_path / 'labels.csv', order, ids, toy


def test_image_folder_converter(toy_root, tmp_path):
    imgs, masks, csv_path, order, ids, toy = _user_folder(toy_root, tmp_path, n=10, png_every=3)
    out = tmp_path / 'custom'
    res = run_tool('tools/dataset_converters/image_folder.py', str(imgs), str(csv_path), '--out', str(out),
                   '--masks', str(masks), '--val-fraction', '0.2')
    assert str(order) in res.stdout and 're-encoded as PNG' in res.stdout  # .jpg and .png mixed
    meta = json.load(open(out / 'meta.json'))
    assert meta['classes'] == order and meta['img_suffix'] == '.png' and meta['splits'] == dict(
        train=8, val=2, train_eval=8)
    labels = read_label_file(str(out / 'cls_labels.json'))
    assert labels['classes'] == order and len(labels['labels']) == 10
    for i, iid in enumerate(ids):  # ids flatten the sub-folder; labels are the same classes in the new order
        new = f"{'a' if i % 2 else 'b'}__{iid}"
        assert labels['labels'][new] == sorted(order.index(toy['classes'][c]) for c in toy['labels'][iid])
        assert (out / 'JPEGImages' / f'{new}.png').is_file() and (out / 'SegmentationClass' / f'{new}.png').is_file()
    val = (out / 'ImageSets/Segmentation/val.txt').read_text().split()
    train = (out / 'ImageSets/Segmentation/train.txt').read_text().split()
    assert len(val) == 2 and not set(val) & set(train)  # held out of training
    # JSON labels with their own class order, and one line for each problem
    js = tmp_path / 'labels.json'
    js.write_text(json.dumps(dict(classes=order[:0:-1], labels={f'b/{ids[0]}': [], f'a/{ids[1]}': [order[1]]})))
    sub = tmp_path / 'two'
    (sub / 'a').mkdir(parents=True)
    (sub / 'b').mkdir()
    for i in (0, 1):
        s = 'a' if i % 2 else 'b'
        Image.open(imgs / s / f'{ids[i]}.png' if i == 0 else imgs / s / f'{ids[i]}.jpg').save(sub / s / f'{ids[i]}.jpg')
    run_tool('tools/dataset_converters/image_folder.py', str(sub), str(js), '--out', str(tmp_path / 'j'))
    assert json.load(open(tmp_path / 'j' / 'meta.json'))['classes'] == ['background'] + order[:0:-1]
    assert json.load(open(tmp_path / 'j' / 'meta.json'))['img_suffix'] == '.jpg'
    for bad_csv, message in [(f'b/{ids[0]}.jpg,dragon\n', "classes ['dragon'] that are not in the class list"),
                             ('nothere.jpg,boat\n', "'nothere.jpg' is not an image"),
                             (f'b/{ids[0]}.jpg,boat\n', 'have no entry in')]:
        (tmp_path / 'bad.csv').write_text(bad_csv)
        r = run_tool('tools/dataset_converters/image_folder.py', str(sub), str(tmp_path / 'bad.csv'), '--out',
                     str(tmp_path / 'bad'), '--classes', 'boat,cow', check=False)
        assert r.returncode != 0 and message in r.stderr and 'Traceback' not in r.stderr


def test_image_folder_converter_checks_mask_values(toy_root, tmp_path):
    imgs, masks, csv_path, order, ids, _ = _user_folder(toy_root, tmp_path, n=2)
    bad = np.array(Image.open(masks / 'b' / f'{ids[0]}.png'))
    bad[0, 0] = len(order)  # one past the last class index
    Image.fromarray(bad).save(masks / 'b' / f'{ids[0]}.png')
    r = run_tool('tools/dataset_converters/image_folder.py', str(imgs), str(csv_path), '--out', str(tmp_path / 'o'),
                 '--masks', str(masks), check=False)
    assert r.returncode != 0 and f'values [{len(order)}] are not class indices' in r.stderr
