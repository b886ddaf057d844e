from .multilabel import MultiLabelSoftMarginLoss, multilabel_soft_margin_loss

__all__ = ['MultiLabelSoftMarginLoss', 'multilabel_soft_margin_loss']
