# The toy twin: ECA's toy config (toy-mit, toy-dino) plus CLIMS's evaluator with toy-clip (the toy CLIMS config's
# prompts and the toy world's co-occurring contexts: water, rails, grass), the term at a tenth from ECA's toy
# warm-up (500) on. `make toy-teachers` builds the three teachers.
#   python tools/train.py projects/eca_clims/configs/eca-clims_mit-tiny_toy-dino_toy-clip_1xb8-2k_toy-112x112.py
_base_ = ['../../../configs/toy/eca_mit-tiny_toy-dino_1xb8-2k_toy-112x112.py',
          '../../../configs/_base_/parts/clims_toy-clip.py']
custom_imports = dict(imports=['mmseg_wsss'], allow_failed_imports=False)
model = dict(encoders=_base_.clims_toy_encoders,
             losses=dict(clims=dict(_base_.clims_toy_term, weight=0.1, start_iter=500)))
toy_compare = dict(name='ECA + CLIMS (toy)', init=None)
optim_wrapper = dict(constructor='FrozenAwareOptimWrapperConstructor')  # the frozen teachers are left out
