from .clip_evaluator import CLIPEvaluator

__all__ = ['CLIPEvaluator']
