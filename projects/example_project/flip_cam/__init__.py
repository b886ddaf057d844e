"""The example project's own package: registered modules that live outside ``mmseg_wsss`` (loaded by the
configs' ``custom_imports``)."""
from .flip_consistency import FlipConsistencyLoss, flip_consistency_loss

__all__ = ['FlipConsistencyLoss', 'flip_consistency_loss']
