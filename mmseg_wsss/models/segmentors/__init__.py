from .wsss_segmentor import WSSSContext, WSSSSegmentor

__all__ = ['WSSSSegmentor', 'WSSSContext']
