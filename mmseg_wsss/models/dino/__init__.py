from .vit import DINO_ARCHS, DINOViTEncoder, build_dino_vit, dino_state_dict, last_block_qkv

__all__ = ['DINO_ARCHS', 'DINOViTEncoder', 'build_dino_vit', 'dino_state_dict', 'last_block_qkv']
