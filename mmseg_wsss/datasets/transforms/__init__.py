from .loading import LoadCheckedImageFromFile, LoadImageLevelLabels
from .formatting import PackWSSSInputs

__all__ = ['LoadImageLevelLabels', 'LoadCheckedImageFromFile', 'PackWSSSInputs']
