"""mmseg-wsss: weakly supervised semantic segmentation for MMSegmentation 1.x.

Importing this package registers every module into mmseg's registries (``default_scope='mmseg'``);
configs reach it with ``custom_imports=dict(imports=['mmseg_wsss'], allow_failed_imports=False)``.
"""
from .utils.compat import apply_patches

apply_patches()

from . import apis, datasets, engine, evaluation, models, utils  # noqa: E402,F401
from .version import __version__  # noqa: E402

__all__ = ['__version__', 'datasets', 'engine', 'evaluation', 'models', 'utils']
