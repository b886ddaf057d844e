from .clims import btm_loss, cbs_loss, otm_loss, reg_loss
from .multilabel import multilabel_soft_margin_loss

__all__ = ['multilabel_soft_margin_loss', 'otm_loss', 'btm_loss', 'cbs_loss', 'reg_loss']
