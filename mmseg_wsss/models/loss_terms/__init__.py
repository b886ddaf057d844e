from .affinity import AffinityFromAttentionLoss
from .classification import CAMClassificationLoss
from .clims import CLIMSLoss
from .correspondence import CAMCorrespondenceLoss
from .decode import DecodeLoss
from .weakclip import CRFBoundaryLoss, ScoreMapLoss, SeedLoss

__all__ = ['CAMCorrespondenceLoss', 'AffinityFromAttentionLoss', 'CAMClassificationLoss', 'DecodeLoss', 'CLIMSLoss',
           'SeedLoss', 'CRFBoundaryLoss', 'ScoreMapLoss']
