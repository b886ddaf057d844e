from .weakclip import CLIPPyramidAdapter, CoAttentionMatcher, TextGuidedNeck

__all__ = ['CLIPPyramidAdapter', 'CoAttentionMatcher', 'TextGuidedNeck']
