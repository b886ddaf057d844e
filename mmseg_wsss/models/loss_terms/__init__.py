from .affinity import AffinityFromAttentionLoss
from .classification import CAMClassificationLoss
from .clims import CLIMSLoss
from .correspondence import CAMCorrespondenceLoss
from .dalnet import CrossContrastiveLoss, GIALoss, LEALoss
from .decode import DecodeLoss
from .weakclip import CRFBoundaryLoss, ScoreMapLoss, SeedLoss

__all__ = ['CAMCorrespondenceLoss', 'AffinityFromAttentionLoss', 'CAMClassificationLoss', 'DecodeLoss', 'CLIMSLoss',
           'SeedLoss', 'CRFBoundaryLoss', 'ScoreMapLoss', 'GIALoss', 'LEALoss', 'CrossContrastiveLoss']
