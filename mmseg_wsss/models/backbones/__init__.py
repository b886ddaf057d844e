from .mit_with_attn import MixVisionTransformerWithAttn

__all__ = ['MixVisionTransformerWithAttn']
