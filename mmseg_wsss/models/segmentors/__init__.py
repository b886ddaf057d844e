from .wsss_segmentor import WSSSContext, WSSSSegmentor
from .wsss_tta import WSSSTTAModel

__all__ = ['WSSSSegmentor', 'WSSSContext', 'WSSSTTAModel']
