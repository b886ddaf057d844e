from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS


@HOOKS.register_module()
class ClassCountCheckHook(Hook):
    """Fail before the first iteration when the model's class count differs from a dataset's.

    A mismatch would otherwise surface as an index error deep in a loss, or silently wrong metrics.
    """
    priority = 'VERY_HIGH'

    @staticmethod
    def _check(runner, loader_name: str):
        loader = getattr(runner, loader_name, None)
        if loader is None or not hasattr(loader, 'dataset'):
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        n_model = getattr(model, 'num_classes', None)
        classes = loader.dataset.metainfo.get('classes')
        if n_model is not None and classes is not None and n_model != len(classes):
            raise ValueError(
                f'The model predicts {n_model} classes (background included) but the {loader_name[:-11]} dataset '
                f'has {len(classes)}: set num_classes in the model config (cam_head: {len(classes) - 1} '
                f'foreground classes; decode_head: {len(classes)}).')

    def before_train(self, runner):
        self._check(runner, 'train_dataloader')

    def before_val(self, runner):
        self._check(runner, 'val_dataloader')

    def before_test(self, runner):
        self._check(runner, 'test_dataloader')
