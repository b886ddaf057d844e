from .classification import CAMClassificationLoss
from .clims import CLIMSLoss
from .decode import DecodeLoss

__all__ = ['CAMClassificationLoss', 'DecodeLoss', 'CLIMSLoss']
