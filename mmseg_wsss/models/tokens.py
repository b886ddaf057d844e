"""Reading a ViT backbone's projected tokens and a text encoder's embeddings from a batch context (the inputs of
the image-text alignment parts: DALNet's terms and mask, the flagship's CLIP maps)."""
from typing import Optional, Tuple, Union

from torch import Tensor

Block = Union[str, int]  # 'final' (the tower's output tokens) or a ViT block index (0-based)


def token_request(block: Block, what: str = 'patches') -> str:
    """The ``ctx.extras`` key a part reading ``block``'s ``what`` ('cls' or 'patches') declares."""
    if block == 'final':
        return what
    if not isinstance(block, int) or block < 0:
        raise ValueError(f"tokens must be 'final' or a non-negative ViT block index, got {block!r}")
    return f'tokens.{block}'


def read_tokens(ctx, block: Block, what: str = 'patches', encoder: Optional[str] = None) -> Tensor:
    """``block``'s class token (B, D) or patch tokens (B, N, D), through the tower's final LayerNorm and
    projection into the text space (``OpenCLIPImageEncoder`` extras ``cls`` / ``patches`` /
    ``tokens[i]['cls_proj' | 'patches_proj']``): the backbone's, or with ``encoder`` those of that shared
    encoder's batch (an ``OpenCLIPImageEncoder(batch_output='tokens')``, e.g. a frozen copy of the backbone)."""
    extras = _token_source(ctx, encoder)
    if block == 'final':
        return extras[what]
    return extras['tokens'][block][f'{what}_proj']


def read_grid(ctx, encoder: Optional[str] = None) -> Tuple[int, int]:
    """The patch grid (h, w) of the backbone's tokens, or of the shared encoder ``encoder``'s."""
    return tuple(_token_source(ctx, encoder)['grid'])


def _token_source(ctx, encoder: Optional[str]) -> dict:
    """The backbone's extras, or the shared encoder ``encoder``'s batch output (the same keys)."""
    return ctx.extras if encoder is None else ctx.encoded(encoder)


def read_texts(ctx, encoder: str, who: str) -> Tuple[Tensor, Tensor]:
    """(class embeddings (K, D), background embedding (D,)) of the text encoder ``encoder``, once per batch."""
    out = ctx.encoded(encoder)
    if out.get('background') is None:
        raise ValueError(f'{who} needs a background text: set background_prompt on encoders.{encoder} '
                         "(DALNet: 'a photo of background.')")
    return out['class_embeddings'], out['background']
