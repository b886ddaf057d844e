from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS  # the builder looks constructors up in the root registry


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class FrozenAwareOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's default constructor, but frozen sub-modules (CLIP / DINO teachers) never enter the optimizer.

    mmengine adds every parameter when there is no ``paramwise_cfg`` and otherwise logs one warning per frozen
    parameter (hundreds for a ViT-B teacher). Here modules whose parameters all have ``requires_grad=False`` are
    skipped, with one summary line.
    """

    def __call__(self, model):
        self.num_frozen = 0
        if not self.paramwise_cfg:
            self.paramwise_cfg = dict(custom_keys={})  # take the per-module path, which can skip
        wrapper = super().__call__(model)
        if self.num_frozen:
            print_log(f'{self.num_frozen / 1e6:.2f} M frozen parameters are left out of the optimizer',
                      logger='current')
        return wrapper

    def add_params(self, params, module, prefix='', **kwargs):
        own = list(module.parameters())
        if own and not any(p.requires_grad for p in own):
            self.num_frozen += sum(p.numel() for p in own)
            return
        super().add_params(params, module, prefix=prefix, **kwargs)
