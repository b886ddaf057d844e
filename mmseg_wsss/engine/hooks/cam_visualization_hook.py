import numpy as np
from mmseg.registry import HOOKS

from ...utils.labels import resize_labels
from ...visualization import cam_row, stack_rows
from .fixed_images import FixedImagesHook


@HOOKS.register_module()
class CAMVisualizationHook(FixedImagesHook):
    """Every ``interval`` iterations, CAM and pseudo-label overlays of a few fixed images to the visualizer.

    One row per image (the first ``num_images`` of ``dataloader``): the image, the CAM of each labelled class,
    each pseudo-label source's labels, the model's prediction and, when the pipeline loads masks, the ground
    truth, all at the network's input size. The grid goes to ``runner.visualizer.add_image('cam_overlays', ...)``:
    local PNGs under the run's ``vis_data/vis_image/`` by default, TensorBoard or W&B when those backends are
    configured.
    """

    def __init__(self, interval: int = 500, dataloader='val_dataloader', num_images: int = 4, max_classes: int = 3):
        super().__init__(interval, dataloader, num_images)
        self.max_classes = max_classes

    def look(self, runner) -> None:
        meta_info = self.dataset(runner).metainfo
        rows = []
        for model, data in self.batches(runner):
            sample = data['data_samples'][0]
            meta = sample.metainfo
            h, w = meta['img_shape'][:2]

            def fit(label):  # a label map (any size) -> (h, w), nearest
                return resize_labels(label, (h, w)).byte().cpu().numpy()

            img = (model.denormalize(data['inputs'])[0, :, :h, :w].permute(1, 2, 0).cpu().numpy() * 255)
            maps = {f'pseudo: {name}': fit(labels[0, :h, :w])
                    for name, labels in model.pseudo_labels_for(data['inputs'], [sample]).items()}
            maps['prediction'] = fit(model.predict(data['inputs'], [sample])[0].pred_sem_seg.data[0])
            if 'gt_sem_seg' in sample:
                maps['ground truth'] = fit(sample.gt_sem_seg.data[0])
            cams = np.zeros((0, h, w), np.float32)
            if model.cam_head is not None:
                cams = model.cam_inference(data['inputs'], [meta])[0, :, :h, :w].cpu().numpy()
            rows.append(cam_row(img.astype(np.uint8), cams, meta.get('img_labels', []), meta_info['classes'],
                                meta_info['palette'], maps, meta.get('img_id', ''), self.max_classes))
        if rows:
            runner.visualizer.add_image('cam_overlays', stack_rows(rows), step=runner.iter + 1)
