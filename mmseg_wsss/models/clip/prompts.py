"""Class names written for CLIP, prompt templates and class-related background prompts."""
from ...utils.class_names import COCO14_THING_CLASSES, VOC12_CLASSES

# VOC's identifiers are not English; CLIP reads English.
VOC12_CLIP_NAMES = tuple({
    'aeroplane': 'aeroplane', 'diningtable': 'dining table', 'motorbike': 'motorbike', 'pottedplant': 'potted plant',
    'tvmonitor': 'tv monitor'
}.get(c, c) for c in VOC12_CLASSES[1:])
COCO14_CLIP_NAMES = COCO14_THING_CLASSES  # already English ("dining table", "tv", ...)

# '*_bg': every segmentation class, background first, for models that prompt "background" as an ordinary class
# (WeakCLIP). COCO's are the 80 thing classes in their contiguous order (1..80), not the 91 original ids.
CLASS_NAME_TABLES = dict(voc12=VOC12_CLIP_NAMES, coco14=COCO14_CLIP_NAMES,
                         voc12_bg=('background', ) + tuple(VOC12_CLIP_NAMES),
                         coco14_bg=('background', ) + tuple(COCO14_CLIP_NAMES))

TEMPLATES = dict(
    clims=('a photo of {}.', ),  # CLIMS Sec. 3.2 ("a photo of the train")
    single=('a photo of a {}.', ),
)

# The official CLIMS code's background prompts (current version): one list shared by every class, not a
# per-class mapping (facts/clims.md). The paper (Sec. 4.3) names per-class sets for train and boat only.
CLIMS_CODE_BACKGROUNDS = dict(
    voc12=('tree', 'river', 'sea', 'lake', 'water', 'railway', 'railroad', 'track', 'stone', 'rocks'),
    coco14=('street sign', 'mountain', 'video game', 'men', 'track', 'bus stop', 'cabinet', 'tray', 'plate',
            'shirt', 'city street', 'runway', 'tower', 'ramp', 'grass', 'pillow', 'urinal', 'lake', 'brick',
            'fence', 'shower', 'airport', 'animal', 'shower curtain', 'road', 'mirror', 'jacket', 'church', 'snow',
            'fruit', 'hay', 'floor', 'field', 'street', 'mouth', 'steam engine', 'cheese', 'river', 'tree branch',
            'suit', 'child', 'soup', 'desk', 'tub', 'tennis court', 'teeth', 'bridge', 'sky', 'officer',
            'sidewalk', 'dock', 'tree', 'court', 'rock', 'board', 'branch', 'pan', 'box', 'body', 'salad', 'dirt',
            'leaf', 'hand', 'highway', 'vegetable', 'computer monitor', 'door', 'meat', 'pair', 'beach', 'harbor',
            'ocean', 'baseball player', 'girl', 'market', 'window', 'blanket', 'boy', 'woman', 'bat', 'baby',
            'flower', 'wall', 'bath tub', 'tarmac', 'tennis ball', 'roll', 'park'))
assert len(CLIMS_CODE_BACKGROUNDS['voc12']) == 10 and len(CLIMS_CODE_BACKGROUNDS['coco14']) == 88


def background_words(spec):
    """Background prompts: a {class name: words} mapping (per class), a list of words shared by every class, or
    the name of an official shared list ('clims_code_voc12', 'clims_code_coco14')."""
    if isinstance(spec, str):
        key = spec.replace('clims_code_', '')
        if not spec.startswith('clims_code_') or key not in CLIMS_CODE_BACKGROUNDS:
            raise KeyError(f'unknown background list {spec!r}; known: '
                           f'{["clims_code_" + k for k in CLIMS_CODE_BACKGROUNDS]}')
        return CLIMS_CODE_BACKGROUNDS[key]
    return spec


def class_names(table):
    """A name table ('voc12', 'coco14', 'voc12_bg', 'coco14_bg') or an explicit sequence of names."""
    if isinstance(table, str):
        if table not in CLASS_NAME_TABLES:
            raise KeyError(f'unknown class-name table {table!r}; known: {sorted(CLASS_NAME_TABLES)}')
        return tuple(CLASS_NAME_TABLES[table])
    return tuple(table)


def templates(spec):
    return TEMPLATES[spec] if isinstance(spec, str) else tuple(spec)
