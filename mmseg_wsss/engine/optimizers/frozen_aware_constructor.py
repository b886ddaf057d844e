from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS  # the builder looks constructors up in the root registry


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class FrozenAwareOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's default constructor, but frozen sub-modules (CLIP / DINO teachers) never enter the optimizer,
    and a trained ViT tower may get layer-wise learning rates.

    mmengine adds every parameter when there is no ``paramwise_cfg`` and otherwise logs one warning per frozen
    parameter (hundreds for a ViT-B teacher). Here modules whose parameters all have ``requires_grad=False`` are
    skipped, with one summary line.

    ``paramwise_cfg=dict(layer_decay=dict(module='backbone', rate=0.9))``: every parameter of that sub-module
    (one with ``num_layers`` and ``layer_id(name)``, e.g. ``OpenCLIPImageEncoder``) has its learning rate
    multiplied by ``rate ** (num_layers + 1 - layer_id)`` (BEiT's layer-wise decay: the final LayerNorm and
    projection 1, the last block ``rate``, ..., the embeddings ``rate ** (num_layers + 1)``), on top of any
    ``custom_keys`` ``lr_mult``.
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
        if prefix == '' and self.paramwise_cfg.get('layer_decay'):
            self._apply_layer_decay(params, module, self.paramwise_cfg['layer_decay'])

    def _apply_layer_decay(self, params, model, cfg):
        root = model.module if hasattr(model, 'module') and not hasattr(model, 'backbone') else model
        path, rate = cfg['module'], float(cfg['rate'])
        part = root.get_submodule(path)
        if not (hasattr(part, 'num_layers') and hasattr(part, 'layer_id')):
            raise TypeError(f'layer_decay: {path} ({type(part).__name__}) has no num_layers / layer_id')
        names = {id(p): n for n, p in root.named_parameters()}
        depth = part.num_layers + 1
        for group in params:
            name = names.get(id(group['params'][0]), '')
            if name.startswith(path + '.'):
                mult = rate ** (depth - part.layer_id(name[len(path) + 1:]))
                group['lr'] = group.get('lr', self.base_lr) * mult
