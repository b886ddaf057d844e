"""What the training-time monitoring hooks share: a few fixed images, run through the model in eval mode."""
import copy
import logging
from typing import Iterator, Tuple, Union

import torch
from mmengine.dataset import pseudo_collate
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmseg.registry import DATASETS


class FixedImagesHook(Hook):
    """Base of hooks that look at the first ``num_images`` images of a dataloader every ``interval`` iterations.

    Args:
        interval (int): training iterations between two looks (also after the last iteration).
        dataloader (str | dict): the name of a dataloader in the runner's config (e.g. 'train_eval_dataloader',
            'val_dataloader') or a dataloader config; its dataset and pipeline are used as they are. A named
            loader that the config lacks or sets to None (``val_dataloader = None``: mmengine's way to switch
            validation off) falls back to the first of ``FALLBACKS`` that the config has, with a warning naming
            it; with none of them, the hook stops with one line saying which key to set.
        num_images (int): how many images (the first ones: the same every time).
    """
    priority = 'NORMAL'  # before LoggerHook (BELOW_NORMAL), which then logs what this iteration measured
    FALLBACKS = ('train_eval_dataloader', 'val_dataloader', 'test_dataloader')

    def __init__(self, interval: int = 500, dataloader: Union[str, dict] = 'val_dataloader', num_images: int = 8):
        self.interval = interval
        self.dataloader = dataloader
        self.num_images = num_images
        self._dataset = None

    def dataset(self, runner):
        if self._dataset is None:
            self._dataset = DATASETS.build(copy.deepcopy(self.loader_cfg(runner.cfg)['dataset']))
        return self._dataset

    def loader_cfg(self, cfg) -> dict:
        """The dataloader config this hook reads in the runner's config ``cfg`` (see ``dataloader``)."""
        if not isinstance(self.dataloader, str):
            return self.dataloader
        name, hook = self.dataloader, type(self).__name__
        if cfg.get(name) is not None:
            return cfg[name]
        why = 'None' if name in cfg else 'missing'
        for other in self.FALLBACKS:
            if other != name and cfg.get(other) is not None:
                print_log(f"{hook}: {name} is {why} in the config; reading {other} instead (set the hook's "
                          'dataloader= to choose)', logger='current', level=logging.WARNING)
                return cfg[other]
        raise KeyError(f"{hook}: {name} is {why} in the config and so are {', '.join(self.FALLBACKS)}: set the "
                       "hook's dataloader= to a dataloader config with a dataset, or remove the hook")

    def due(self, runner) -> bool:
        return self.every_n_train_iters(runner, self.interval) or self.is_last_train_iter(runner)

    @staticmethod
    def model_of(runner):
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def batches(self, runner) -> Iterator[Tuple[object, dict]]:
        """(model, preprocessed one-image batch) for each fixed image, the model in eval mode and no_grad; the
        model's mode is restored afterwards."""
        model = self.model_of(runner)
        dataset = self.dataset(runner)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                for idx in range(min(self.num_images, len(dataset))):
                    yield model, model.data_preprocessor(pseudo_collate([dataset[idx]]), False)
        finally:
            model.train(was_training)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.due(runner):
            self.look(runner)

    def look(self, runner) -> None:
        raise NotImplementedError
