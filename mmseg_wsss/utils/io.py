"""Atomic file writes: a file either does not exist or is complete."""
import os
import os.path as osp
import tempfile

import numpy as np
from PIL import Image


def _atomic(path: str, write_fn, suffix: str):
    d = osp.dirname(osp.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix='.tmp-', suffix=suffix)
    os.close(fd)
    try:
        write_fn(tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def atomic_write_text(path: str, text: str) -> None:
    def write(tmp):
        with open(tmp, 'w') as f:
            f.write(text)
    _atomic(path, write, '.txt')


def save_label_png(path: str, label: np.ndarray, palette=None) -> None:
    """Save a uint8 label map as a (palette) PNG, atomically."""
    img = Image.fromarray(label.astype(np.uint8))  # mode L; putpalette turns it into P
    if palette is not None:
        flat = np.zeros((256, 3), dtype=np.uint8)
        pal = np.asarray(palette, dtype=np.uint8)[:256]
        flat[:len(pal)] = pal
        flat[255] = (224, 224, 192)  # VOC's colour for "ignore"
        img.putpalette(flat.flatten().tolist())
    _atomic(path, lambda tmp: img.save(tmp, format='PNG'), '.png')


def save_image(path: str, img: np.ndarray, **kwargs) -> None:
    """Save an RGB uint8 image atomically (format from the extension)."""
    fmt = 'JPEG' if path.lower().endswith(('.jpg', '.jpeg')) else 'PNG'
    _atomic(path, lambda tmp: Image.fromarray(img).save(tmp, format=fmt, **kwargs), osp.splitext(path)[1])


def read_label_png(path: str) -> np.ndarray:
    """Read a label map PNG as class indices (palette or grayscale; OpenCV would decode a palette PNG to colours)."""
    with Image.open(path) as img:
        return np.array(img)
