from collections import defaultdict

from mmengine.logging import print_log
from mmseg.registry import HOOKS

from ...evaluation import label_map_quality
from ...utils.cam_ops import restore_labels_to_image
from .fixed_images import FixedImagesHook


@HOOKS.register_module()
class PseudoLabelQualityHook(FixedImagesHook):
    """Logs each pseudo-label source's quality against the pixel masks during training: the curve of "how good
    are my training labels".

    Every ``interval`` iterations the model's pseudo-label sources (``model.pseudo_labels``) run in eval mode on
    the first ``num_images`` images of ``dataloader`` (one whose pipeline loads masks: ``train_eval_dataloader``
    measures the train split, the WSSS convention) and, for each source, ``pseudo_label/<name>/mIoU`` (unsure
    pixels as background), ``.../mIoU_confident`` and ``.../confident_fraction`` go to the message hub: the logger
    prints them and the visualizer's backends (JSON, TensorBoard, W&B) record them.
    """

    def __init__(self, interval: int = 500, dataloader='train_eval_dataloader', num_images: int = 64):
        super().__init__(interval, dataloader, num_images)

    def look(self, runner) -> None:
        pairs = defaultdict(list)
        model = None
        for model, data in self.batches(runner):
            sample = data['data_samples'][0]
            if 'gt_sem_seg' not in sample:
                raise KeyError(f'PseudoLabelQualityHook: {self.dataloader} loads no masks (add LoadAnnotations)')
            gt = sample.gt_sem_seg.data[0].cpu()
            for name, labels in model.pseudo_labels_for(data['inputs'], data['data_samples']).items():
                pairs[name].append((restore_labels_to_image(labels[0], sample.metainfo).cpu(), gt))
        if model is None or not pairs:
            return
        num_classes = model.num_classes
        for name, items in pairs.items():
            quality = label_map_quality(items, num_classes)
            for key, value in quality.items():
                runner.message_hub.update_scalar(f'train/pseudo_label/{name}/{key}', value)
            print_log(f'pseudo labels {name!r} at iter {runner.iter + 1} ({len(items)} images): {quality}',
                      logger='current')
