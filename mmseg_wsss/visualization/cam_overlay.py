"""CAM and label-map overlays as RGB arrays (shared by tools/visualize_cams.py and CAMVisualizationHook)."""
from typing import Dict, Optional, Sequence

import cv2
import numpy as np

TILE = 160


def tile(img: np.ndarray, text: str = '') -> np.ndarray:
    """Resize an RGB image to fit a TILE x TILE cell under a one-line caption."""
    h, w = img.shape[:2]
    s = TILE / max(h, w)
    img = cv2.resize(img, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_NEAREST)
    out = np.full((TILE + 14, TILE, 3), 255, np.uint8)
    out[14:14 + img.shape[0], :img.shape[1]] = img
    if text:
        cv2.putText(out, text[:22], (2, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def overlay(img: np.ndarray, cam: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend a [0, 1] map, jet-coloured, over an RGB image."""
    heat = cv2.applyColorMap((np.clip(cam, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    return (img * (1 - alpha) + heat * alpha).astype(np.uint8)


def colorize(label: np.ndarray, palette) -> np.ndarray:
    """A label map (H, W) in the dataset's palette; 255 (ignore) in VOC's beige."""
    pal = np.zeros((256, 3), np.uint8)
    pal[:len(palette)] = np.asarray(palette, np.uint8)[:256]
    pal[255] = (224, 224, 192)
    return pal[label]


def cam_row(img: np.ndarray, cams: np.ndarray, img_label_ids: Sequence[int], classes: Sequence[str], palette,
            label_maps: Optional[Dict[str, np.ndarray]] = None, title: str = '', max_classes: int = 3) -> np.ndarray:
    """One row: the image, one CAM overlay per labelled class (up to ``max_classes``, blank cells after), then
    each named label map (pseudo labels, CAM segmentation, ground truth) in the palette."""
    cells = [tile(img, title)]
    ids = list(img_label_ids)[:max_classes]
    cells += [tile(overlay(img, cams[c - 1]), classes[c]) for c in ids]
    cells += [tile(np.full_like(img, 255))] * (max_classes - len(ids))
    for name, label in (label_maps or {}).items():
        cells.append(tile(colorize(label.astype(np.uint8), palette), name))
    return np.concatenate(cells, axis=1)


def stack_rows(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Rows of different widths, padded white on the right, one under the other."""
    width = max(r.shape[1] for r in rows)
    return np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows])
