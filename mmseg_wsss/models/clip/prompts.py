"""Class names written for CLIP, prompt templates and class-related background prompts."""
from ...utils.class_names import COCO14_THING_CLASSES, VOC12_CLASSES

# VOC's identifiers are not English; CLIP reads English.
VOC12_CLIP_NAMES = tuple({
    'aeroplane': 'aeroplane', 'diningtable': 'dining table', 'motorbike': 'motorbike', 'pottedplant': 'potted plant',
    'tvmonitor': 'tv monitor'
}.get(c, c) for c in VOC12_CLASSES[1:])
COCO14_CLIP_NAMES = COCO14_THING_CLASSES  # already English ("dining table", "tv", ...)

CLASS_NAME_TABLES = dict(voc12=VOC12_CLIP_NAMES, coco14=COCO14_CLIP_NAMES)

TEMPLATES = dict(
    clims=('a photo of {}.', ),  # CLIMS Sec. 3.2 ("a photo of the train")
    single=('a photo of a {}.', ),
)

def class_names(table):
    """A name table: 'voc12', 'coco14' or an explicit sequence of names."""
    if isinstance(table, str):
        if table not in CLASS_NAME_TABLES:
            raise KeyError(f'unknown class-name table {table!r}; known: {sorted(CLASS_NAME_TABLES)}')
        return tuple(CLASS_NAME_TABLES[table])
    return tuple(table)


def templates(spec):
    return TEMPLATES[spec] if isinstance(spec, str) else tuple(spec)
