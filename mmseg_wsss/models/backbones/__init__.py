from .mit_with_attn import MixVisionTransformerWithAttn
from .timm_vit import TimmViTEncoder

__all__ = ['MixVisionTransformerWithAttn', 'TimmViTEncoder']
