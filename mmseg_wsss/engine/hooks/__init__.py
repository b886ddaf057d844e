from .dataset_check_hook import ClassCountCheckHook

__all__ = ['ClassCountCheckHook']
