from .affinity import AffinityFromAttentionLoss
from .classification import CAMClassificationLoss
from .clims import CLIMSLoss
from .correspondence import CAMCorrespondenceLoss
from .dalnet import CrossContrastiveLoss, GIALoss, LEALoss
from .decode import DecodeLoss, DenseEnergyLoss
from .weakclip import CRFBoundaryLoss, ScoreMapLoss, SeedLoss

__all__ = ['CAMCorrespondenceLoss', 'AffinityFromAttentionLoss', 'CAMClassificationLoss', 'DecodeLoss',
           'DenseEnergyLoss', 'CLIMSLoss', 'SeedLoss', 'CRFBoundaryLoss', 'ScoreMapLoss', 'GIALoss', 'LEALoss',
           'CrossContrastiveLoss']
