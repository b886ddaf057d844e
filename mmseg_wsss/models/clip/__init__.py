from .image_encoder import OpenCLIPImageEncoder, interpolate_pos_embed
from .openclip import build_open_clip, resolve_pretrained, tiny_clip_cfg
from .text_encoder import OpenCLIPTextEncoder

__all__ = ['OpenCLIPTextEncoder', 'OpenCLIPImageEncoder', 'build_open_clip', 'resolve_pretrained', 'tiny_clip_cfg',
           'interpolate_pos_embed']
