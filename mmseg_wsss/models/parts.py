"""The two protocols of the segmentor's named parts, as base classes: loss terms and pseudo-label sources.

Both read one batch through a :class:`~mmseg_wsss.models.segmentors.context.WSSSContext` (data only: images,
labels, features, extras, head outputs, maps, pseudo labels) and never the segmentor. Every shipped term and source
subclasses these (tested); a plain ``nn.Module`` with the same methods works too (duck typing).

Labels: every pseudo-label tensor is (B, H, W) long at the input size, 0 = background, class k + 1, 255 = ignore
(padding included). A term configured with ``labels='name'`` receives that tensor, with ``labels=('a', 'b')`` a
tuple of them.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch.nn as nn
from torch import Tensor

from .maps import MapRequest

Labels = Union[None, Tensor, Tuple[Tensor, ...]]


class BaseLossTerm(nn.Module):
    """A named term of the paper's total loss (``losses=dict(<name>=dict(type=..., weight=, start_iter=,
    end_iter=, labels=))``; the segmentor reads those four keys).

    ``forward(ctx, labels) -> dict``: keys ``loss`` / ``loss_*`` are weighted by the term's ``weight`` and summed
    into the total (mmseg's rule); any other key is logged only. Declare what the term reads, so a config that
    joins it to a part that makes something else fails when the model is built:
    :meth:`map_requests` (named maps and the kinds accepted), :meth:`head_requests` (named heads) and
    :meth:`extra_requests` (``ctx.extras`` keys the backbone or neck must declare in ``extra_outputs``;
    ``tokens.<i>`` is ``extras['tokens'][i]``); a part that reads a shared encoder's batch output instead may
    declare :meth:`encoder_requests` (pairs of an encoder name and the keys of its ``batch_outputs`` it reads).
    """
    name: Optional[str] = None  # set by the segmentor: the term's key in ``losses``

    def map_requests(self) -> Sequence[MapRequest]:
        return ()

    def head_requests(self) -> Sequence[str]:
        return ()

    def extra_requests(self) -> Sequence[str]:
        return ()

    def forward(self, ctx, labels: Labels = None) -> Dict[str, Tensor]:
        raise NotImplementedError


class BasePseudoLabelSource(nn.Module):
    """A named pseudo-label source (``pseudo_labels=dict(<name>=dict(type=...))``), computed at most once per
    batch when a term, another source or a hook first reads it.

    ``forward(ctx) -> (B, H, W)`` long labels (255 = ignore). A source that also makes a dense map for others
    (``CAMPseudoLabel``: its normalised CAMs) sets ``map_kind`` and implements ``maps(ctx)``; the map is named
    after the source. Requests as :class:`BaseLossTerm`.
    """
    name: Optional[str] = None  # set by the segmentor: the source's key in ``pseudo_labels``

    def map_requests(self) -> Sequence[MapRequest]:
        return ()

    def head_requests(self) -> Sequence[str]:
        return ()

    def extra_requests(self) -> Sequence[str]:
        return ()

    def forward(self, ctx) -> Tensor:
        raise NotImplementedError
