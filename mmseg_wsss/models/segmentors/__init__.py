from .context import WSSSContext
from .wsss_segmentor import TermSchedule, WSSSSegmentor
from .wsss_tta import WSSSTTAModel

__all__ = ['WSSSSegmentor', 'WSSSContext', 'WSSSTTAModel', 'TermSchedule']
