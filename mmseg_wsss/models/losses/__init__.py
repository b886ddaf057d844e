from .clims import btm_loss, cbs_loss, otm_loss, reg_loss
from .multilabel import MultiLabelSoftMarginLoss, multilabel_soft_margin_loss

__all__ = ['MultiLabelSoftMarginLoss', 'multilabel_soft_margin_loss', 'otm_loss', 'btm_loss', 'cbs_loss',
           'reg_loss']
