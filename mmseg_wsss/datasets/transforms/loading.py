import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform, LoadImageFromFile
from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadCheckedImageFromFile(LoadImageFromFile):
    """``LoadImageFromFile`` that fails with one clear error for a missing or undecodable image.

    mmcv returns ``None`` for bytes it cannot decode, which surfaces later as an unrelated ``AttributeError``.
    """

    def transform(self, results: dict) -> dict:
        path = results['img_path']
        try:
            img_bytes = fileio.get(path, backend_args=self.backend_args)
        except FileNotFoundError:
            raise FileNotFoundError(f'Image not found: {path}') from None
        img = mmcv.imfrombytes(img_bytes, flag=self.color_type, backend=self.imdecode_backend)
        if img is None:
            raise ValueError(f'Cannot decode image {path}: the file is corrupt or not an image')
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results


@TRANSFORMS.register_module()
class LoadImageLevelLabels(BaseTransform):
    """Turn the dataset's ``img_labels`` (segmentation ids present) into a multi-hot vector.

    Added key: ``gt_img_labels`` (float32, shape (num_classes,)); index 0 (background) is set to 1 when
    ``with_background`` is True, since every image contains background.
    """

    def __init__(self, with_background: bool = True):
        self.with_background = with_background

    def transform(self, results: dict) -> dict:
        if 'img_labels' not in results or 'num_classes' not in results:
            raise KeyError('LoadImageLevelLabels needs `img_labels` and `num_classes` from a WSSSDataset')
        multi_hot = np.zeros(results['num_classes'], dtype=np.float32)
        multi_hot[list(results['img_labels'])] = 1
        if self.with_background:
            multi_hot[0] = 1
        results['gt_img_labels'] = multi_hot
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(with_background={self.with_background})'
