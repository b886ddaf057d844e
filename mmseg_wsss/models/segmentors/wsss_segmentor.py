"""One segmentor for every WSSS method in this toolbox.

    encoders (shared auxiliary networks: CLIP towers, DINO, a prompt-learning text encoder), built once
      |
    backbone -> feats (+ extras) -> [neck] -> cam_head -> CAMs            (each network runs once per batch)
                                         '-> decode_head / auxiliary_head -> logits
      |
    pseudo_labels: named sources (CAM thresholds, CARM, seeds from PNGs, ...), computed when first read
    losses:        named terms, the paper's total loss, each with weight / start_iter / end_iter / labels

Every part is a registered module named in the config. Stock mmseg backbones, necks and heads work unchanged;
a backbone may also expose extras (``forward_with_extras``) and a neck or head may take the text encoder's output
(``accepts_text = True``: it receives ``[feats, text]``, like mmseg's ``MultimodalEncoderDecoder`` heads). A neck
with ``uses_extras = True`` is also given the backbone's extras (``neck(inputs, extras) -> (feats, more_extras)``)
and may add its own (WeakCLIP's score map) to ``ctx.extras``.
``predict`` returns standard ``SegDataSample``s: the decoder's logits, or CAMs turned into a segmentation, so
mmseg's ``IoUMetric`` and ``tools/test.py --tta`` work unchanged.
"""
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.config import ConfigDict
from mmengine.logging import MessageHub
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor, EncoderDecoder
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import add_prefix
from torch import Tensor

from ...utils.cam_ops import (add_background, mask_absent, max_normalize, multi_scale_flip_cams, restore_to_image,
                              slide_cams)
from ...utils.labels import has_img_labels, image_region, img_labels_multi_hot
from ..maps import check_join, resolve
from .context import WSSSContext

DEFAULT_TEST_CFG = dict(
    mode='whole',          # 'whole' or 'slide' (with crop_size, stride), as in mmseg
    source='auto',         # 'auto': decoder if there is one, else CAMs; or 'cam' / 'decoder'
    bg_thr=0.15,           # background score for CAM -> segmentation (IRNet's CAM evaluation threshold)
    cam_scales=(1.0, ),    # multi-scale CAM inference (summed before normalisation)
    cam_flip=False,        # add horizontally flipped views
    use_img_labels=True,   # restrict CAMs to the image-level labels when the sample carries them
    cls_thr=0.5,           # otherwise keep classes whose sigmoid score exceeds this
    output_cams=False,     # also attach `cams` to decoder predictions (CAM source always attaches them)
    keep_channels=None,    # decoder channels kept at prediction, in label order (a converted model with more
                           # output slots than the dataset's classes: WeakCLIP's 91-slot COCO network)
)
TERM_KEYS = ('weight', 'start_iter', 'end_iter', 'labels')
PART_KEYS = ('frozen', 'in_checkpoint')  # the freezing rule's keys, on encoders, backbone and neck
ROUTE_KEYS = ('feats_from', 'text_from')  # what a head reads (segmentor keys on neck / cam / decode / aux heads)
ROUTED_PARTS = ('neck', 'cam_head', 'decode_head', 'auxiliary_head')


def is_loss_key(key: str) -> bool:
    """mmseg's rule, exactly: a key whose last dotted part is ``loss`` or starts with ``loss_`` is a loss
    (weighted by its term's ``weight`` and summed into the total); any other key is only logged."""
    last = key.rsplit('.', 1)[-1]
    return last == 'loss' or last.startswith('loss_')


def current_iter() -> int:
    """The runner's current iteration (0 outside a runner)."""
    return int(MessageHub.get_current_instance().get_info('iter', 0) or 0)


class TermSchedule:
    """When and how strongly a loss term counts, and which pseudo-label source(s) it reads."""

    def __init__(self, weight: float = 1.0, start_iter: int = 0, end_iter: Optional[int] = None,
                 labels: Union[None, str, Sequence[str]] = None):
        self.weight = float(weight)
        self.start_iter = int(start_iter)
        self.end_iter = None if end_iter is None else int(end_iter)
        self.labels = labels if labels is None or isinstance(labels, str) else tuple(labels)

    def active(self, it: int) -> bool:
        """Computed from ``start_iter`` (inclusive) until ``end_iter`` (exclusive; None = to the end)."""
        return it >= self.start_iter and (self.end_iter is None or it < self.end_iter)

    @property
    def label_names(self) -> tuple:
        return () if self.labels is None else (self.labels, ) if isinstance(self.labels, str) else self.labels


def _split(cfg: dict, keys: Sequence[str]):
    cfg = dict(cfg)
    return cfg, {k: cfg.pop(k) for k in keys if k in cfg}


@MODELS.register_module()
class WSSSSegmentor(BaseSegmentor):
    """Segmentor configured from shared encoders, a backbone, heads, named pseudo-label sources and loss terms.

    Args:
        backbone (dict): any mmseg backbone; one with ``forward_with_extras(x) -> (feats, extras)`` also
            exposes extras (attention logits, class token, ...) as ``ctx.extras``.
        encoders (dict[str, dict], optional): auxiliary networks by name, built once, reached by
            ``ctx.encoder(name)`` / ``ctx.encoded(name)``. Keys read by the segmentor: ``frozen`` (default True)
            and ``in_checkpoint`` (default False), the freezing rule of :meth:`_build_part`, which the backbone
            and the neck follow too (``frozen`` default False there).
        text_encoder (str, optional): name of the encoder whose output (``encoder()``) is passed to every neck
            or head with ``accepts_text = True``.
        neck (dict, optional): its outputs feed every head, unless a head says ``feats_from='backbone'``.
        cam_head (dict, optional): CAM head (``CAMHead``, ``SigmoidCAMHead``); ``num_classes`` counts foreground
            classes only.
        decode_head / auxiliary_head (dict, optional): mmseg decode heads (``num_classes`` with background),
            run once per batch; ``DecodeLoss`` terms train them on pseudo labels.
        heads (dict[str, dict], optional): named extra network parts run once per batch after the backbone,
            ``head(feats, extras) -> outputs``, kept in ``ctx.head_outputs[name]`` (AFA's
            ``AttentionAffinityHead``); terms and sources name the heads they read (``head_requests``). A head
            whose class declares ``map_outputs = {key: kind}`` makes the maps ``<name>.<key>`` (``AuxCAMHead``).
        pseudo_labels (dict[str, dict], optional): named pseudo-label sources ``forward(ctx) -> (B, H, W)``
            (255 = ignore); the segmentor marks padding 255.
        losses (dict[str, dict]): named loss terms ``forward(ctx, labels=None) -> dict`` (keys starting with
            ``loss`` are weighted and summed; others are logged). Keys read by the segmentor: ``weight``
            (default 1), ``start_iter`` (0), ``end_iter`` (None), ``labels`` (the name, or names, of the
            pseudo-label source(s) passed as ``labels``). A term outside its iterations is not computed. A child
            config drops an inherited term or source by setting it to None (``losses=dict(cc=None)``).
        train_cfg, test_cfg (dict): see ``DEFAULT_TEST_CFG`` for the test keys.

        Two keys on ``cam_head``, ``decode_head`` and ``auxiliary_head`` (and ``text_from`` on ``neck``) say
        what that part reads, for models whose heads read different things (a CAM head on the frozen tower's
        projected tokens next to a decoder on a neck's pyramid, each with its own prompts):
        ``feats_from``: ``'neck'`` (the default when there is a neck) or ``'backbone'`` (the backbone's outputs,
        before the neck); ``text_from``: the encoder whose output a part with ``accepts_text`` receives (default
        ``text_encoder``).
        pretrained (str, optional): as mmseg's ``EncoderDecoder`` (``mmseg.apis.init_model`` sets it to None).
    """
    # EncoderDecoder's inference, reused as is. Its __init__ insists on a decode head, which CAM-only models lack,
    # so this class derives from BaseSegmentor and takes these functions explicitly.
    whole_inference = EncoderDecoder.whole_inference
    slide_inference = EncoderDecoder.slide_inference
    inference = EncoderDecoder.inference
    _init_decode_head = EncoderDecoder._init_decode_head

    def __init__(self,
                 backbone: dict,
                 encoders: Optional[Dict[str, dict]] = None,
                 text_encoder: Optional[str] = None,
                 neck: Optional[dict] = None,
                 cam_head: Optional[dict] = None,
                 decode_head: Optional[dict] = None,
                 auxiliary_head: Optional[dict] = None,
                 heads: Optional[Dict[str, dict]] = None,
                 pseudo_labels: Optional[Dict[str, dict]] = None,
                 losses: Optional[Dict[str, dict]] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if cam_head is None and decode_head is None:
            raise ValueError('WSSSSegmentor needs a cam_head, a decode_head, or both')
        for arg, value in (('encoders', encoders), ('pseudo_labels', pseudo_labels), ('losses', losses)):
            if value is not None and not isinstance(value, dict):
                raise TypeError(f'`{arg}` is a dict keyed by name (e.g. {arg}=dict(cam=dict(type=...))), '
                                f'got {type(value).__name__}')

        # shared auxiliary networks; every part (encoders, backbone, neck) follows one freezing rule
        self.frozen_parts, self.parts_in_checkpoint = set(), set()
        self.encoders = nn.ModuleDict()
        for name, cfg in (encoders or {}).items():
            self.encoders[name] = self._build_part(f'encoders.{name}', cfg, default_frozen=True)
        if text_encoder is not None and text_encoder not in self.encoders:
            raise KeyError(f'text_encoder={text_encoder!r} is not among encoders {sorted(self.encoders)}')
        self.text_encoder = text_encoder

        if pretrained is not None:
            assert backbone.get('pretrained') is None, 'both backbone and segmentor set pretrained weight'
            backbone = dict(backbone, pretrained=pretrained)
        cfgs, routes = dict(zip(ROUTED_PARTS, (neck, cam_head, decode_head, auxiliary_head))), {}
        for part, cfg in cfgs.items():
            if cfg is not None:
                cfgs[part], routes[part] = _split(cfg, ROUTE_KEYS)
        neck, cam_head, decode_head, auxiliary_head = (cfgs[p] for p in ROUTED_PARTS)
        self.backbone = self._build_part('backbone', backbone, default_frozen=False)
        self.neck = self._build_part('neck', neck, default_frozen=False) if neck is not None else None
        self.cam_head = MODELS.build(cam_head) if cam_head is not None else None
        if decode_head is not None:
            self._init_decode_head(decode_head)  # sets decode_head, align_corners, num_classes, out_channels
        else:
            self.decode_head = None
            self.align_corners = False
            self.num_classes = self.cam_head.num_classes + 1
            self.out_channels = self.num_classes
        self.auxiliary_head = MODELS.build(auxiliary_head) if auxiliary_head is not None else None
        if heads is not None and not isinstance(heads, dict):
            raise TypeError('`heads` is a dict keyed by name (e.g. heads=dict(affinity=dict(type=...)))')
        self.heads = nn.ModuleDict({name: MODELS.build(cfg) for name, cfg in (heads or {}).items()})
        if self.cam_head is not None and self.cam_head.num_classes + 1 != self.num_classes:
            raise ValueError(f'cam_head.num_classes ({self.cam_head.num_classes}, foreground) + 1 must equal '
                             f'decode_head.num_classes ({self.num_classes}, with background)')
        self._set_routes(routes)

        # named pseudo-label sources and loss terms
        self.pseudo_label_sources = nn.ModuleDict(
            {name: MODELS.build(cfg) for name, cfg in (pseudo_labels or {}).items() if cfg is not None})
        for name, src in self.pseudo_label_sources.items():
            src.name = name
        self.loss_terms = nn.ModuleDict()
        self.term_schedules: Dict[str, TermSchedule] = {}
        for name, cfg in (losses or {}).items():
            if cfg is None:  # a child config drops an inherited term: losses=dict(<name>=None)
                continue
            cfg, sched = _split(cfg, TERM_KEYS)
            self.loss_terms[name] = MODELS.build(cfg)
            self.loss_terms[name].name = name
            self.term_schedules[name] = TermSchedule(**sched)
            unknown = [s for s in self.term_schedules[name].label_names if s not in self.pseudo_label_sources]
            if unknown:
                raise KeyError(f'loss term {name!r} reads pseudo labels {unknown}, which are not among '
                               f'pseudo_labels {sorted(self.pseudo_label_sources)}')

        self.train_cfg = ConfigDict(train_cfg or {})
        self.test_cfg = ConfigDict({**DEFAULT_TEST_CFG, **(test_cfg or {})})
        if self.test_cfg.source not in ('auto', 'cam', 'decoder'):
            raise ValueError(f'test_cfg.source must be auto, cam or decoder, got {self.test_cfg.source!r}')
        keep = self.test_cfg.keep_channels
        if keep is not None:
            keep = [int(c) for c in keep]
            if self.decode_head is None or len(set(keep)) != len(keep) or keep[0] != 0 or \
                    not all(0 <= c < self.num_classes for c in keep):
                raise ValueError(f'test_cfg.keep_channels must list distinct decoder channels in [0, '
                                 f'{self.num_classes}), background (0) first, of a model with a decode_head')
            self.out_channels = len(keep)  # mmseg's slide inference sizes its buffer by this
        self.keep_channels = keep
        self.map_producers = self._map_producers()
        for part, modules in (('heads', self.heads), ('pseudo_labels', self.pseudo_label_sources),
                              ('losses', self.loss_terms)):
            for name, module in modules.items():
                who = f'{part}.{name} ({type(module).__name__})'
                for request in getattr(module, 'map_requests', lambda: ())():
                    check_join(who, request, self.map_producers)
                for key in getattr(module, 'extra_requests', lambda: ())():
                    self._check_extra(who, key)
                for enc, keys in getattr(module, 'encoder_requests', lambda: ())():
                    self._check_encoder_outputs(who, enc, keys)
                for head in getattr(module, 'head_requests', lambda: ())():
                    if head in ('decode_head', 'auxiliary_head'):
                        if getattr(self, head) is None:
                            raise ValueError(f'{who} reads the {head}, but the model has none')
                    elif head not in self.heads:
                        raise KeyError(f'{who} reads head {head!r}, which is not among heads {sorted(self.heads)} '
                                       f'(e.g. heads=dict({head}=dict(type=\'AttentionAffinityHead\', ...)))')
        self._predict_texts = None
        self._register_state_dict_hook(WSSSSegmentor._drop_frozen_encoder_state)
        self._register_load_state_dict_pre_hook(self._refill_frozen_encoder_state, with_module=False)

    def _set_routes(self, routes: Dict[str, dict]) -> None:
        """``feats_from`` / ``text_from`` of each head (see the class docstring), checked: one line naming the part."""
        self.feats_from, self.text_from = {}, {}
        for part in ROUTED_PARTS:
            module = getattr(self, part)
            if module is None:
                continue
            route = routes.get(part, {})
            who = f'{part} ({type(module).__name__})'
            src = route.get('feats_from')
            if part == 'neck' and src is not None:
                raise ValueError(f'{who}: feats_from is for heads; a neck always reads the backbone')
            if src not in (None, 'neck', 'backbone'):
                raise ValueError(f"{who}: feats_from must be 'neck' or 'backbone', got {src!r}")
            if src == 'neck' and self.neck is None:
                raise ValueError(f"{who} reads feats_from='neck', but the model has no neck")
            if part != 'neck':
                self.feats_from[part] = src or ('neck' if self.neck is not None else 'backbone')
            text = route.get('text_from')
            takes_text = getattr(module, 'accepts_text', False)
            if text is not None:
                if not takes_text:
                    raise ValueError(f'{who} takes no text (accepts_text is not set), but the config gives it '
                                     f'text_from={text!r}')
                if text not in self.encoders:
                    raise KeyError(f'{who} reads text_from={text!r}, which is not among encoders '
                                   f'{sorted(self.encoders)}')
            elif takes_text:
                if self.text_encoder is None:
                    raise ValueError(f'{part} takes text embeddings (accepts_text) but the model names no '
                                     'text_encoder (or give the part text_from=<encoder>)')
                text = self.text_encoder
            if text is not None:
                self.text_from[part] = text

    @property
    def text_encoders(self) -> List[str]:
        """Every encoder whose output some part receives as text: the model's ``text_encoder`` first."""
        names = [] if self.text_encoder is None else [self.text_encoder]
        return names + [n for n in dict.fromkeys(self.text_from.values()) if n not in names]

    def _check_extra(self, who: str, key: str) -> None:
        """A part reads ``ctx.extras`` key ``key`` (``tokens.<i>``: ``extras['tokens'][i]``): the backbone or the
        neck must declare it in ``extra_outputs``; else one line naming both."""
        given = {}
        for part in ('backbone', 'neck'):
            module = getattr(self, part)
            for k in getattr(module, 'extra_outputs', ()):
                given[k] = f'{part} ({type(module).__name__})'
        if key in given:
            return
        hint = ''
        if key.startswith('tokens.'):
            hint = f' (add {key.split(".", 1)[1]} to the backbone\'s token_blocks)'
        raise ValueError(f'{who} reads extras {key!r}, which neither backbone ({type(self.backbone).__name__}) nor '
                         f'neck gives (declared: {sorted(given) or "none"}){hint}')

    def _check_encoder_outputs(self, who: str, name: str, keys) -> None:
        """A part reads keys of shared encoder ``name``'s batch output (``batch_outputs``): the encoder must exist
        and declare them; else one line naming both."""
        if name not in self.encoders:
            raise KeyError(f'{who} reads encoder {name!r}, which is not among encoders {sorted(self.encoders)}')
        enc = self.encoders[name]
        given = getattr(enc, 'batch_outputs', frozenset())
        missing = [k for k in keys if k not in given]
        if missing:
            hint = ' (an OpenCLIPImageEncoder needs batch_output=\'tokens\' and those token_blocks)'
            raise ValueError(f'{who} reads {missing} of encoders.{name} ({type(enc).__name__}), which gives '
                             f'{sorted(given) or "none"}{hint}')

    # ------------------------------------------------------------------ maps
    def _map_producers(self) -> Dict[str, tuple]:
        """Every named map of the model: name -> (kind, what makes it) (see :mod:`mmseg_wsss.models.maps`)."""
        out = {}

        def add(name, kind, producer):
            if name in out:
                raise ValueError(f'map name {name!r} is made by both {out[name][1]} and {producer}: rename one')
            out[name] = (kind, producer)

        if self.cam_head is not None:
            head = f'cam_head ({type(self.cam_head).__name__})'
            add('cams', getattr(self.cam_head, 'cam_kind', 'relu'), head)
            add('cam_logits', 'logits', head)
        for part in ('backbone', 'neck'):
            module = getattr(self, part)
            for key, kind in getattr(module, 'map_outputs', {}).items():
                add(key, kind, f'{part} ({type(module).__name__}) extras')
        for name, head in self.heads.items():
            for key, kind in getattr(head, 'map_outputs', {}).items():
                add(f'{name}.{key}', kind, f'heads.{name} ({type(head).__name__})')
        for name, src in self.pseudo_label_sources.items():
            add(name, getattr(src, 'map_kind', 'labels'), f'pseudo_labels.{name} ({type(src).__name__})')
        return out

    def produce_map(self, name: str, ctx: WSSSContext) -> Tensor:
        """The map ``name`` of this batch, of its producer's kind (``ctx.map`` converts and caches it)."""
        if name not in self.map_producers:
            raise KeyError(f'no map named {name!r}; the model makes {sorted(self.map_producers)}')
        if name == 'cams':
            return ctx.cams
        if name == 'cam_logits':
            return ctx.cam_outputs['cam_logits']
        if name in self.pseudo_label_sources:
            src = self.pseudo_label_sources[name]
            return src.maps(ctx) if hasattr(src, 'map_kind') else ctx.pseudo_label(name)
        head, _, key = name.partition('.')
        if head in self.heads and key in getattr(self.heads[head], 'map_outputs', {}):
            return ctx.head_outputs[head][key]
        if name not in ctx.extras:
            raise KeyError(f'map {name!r} is declared by {self.map_producers[name][1]} but missing from its '
                           f'extras this batch ({sorted(ctx.extras)})')
        return ctx.extras[name]

    def map_kind(self, name: str, kinds) -> tuple:
        """(producer kind, the kind among ``kinds`` it is converted to) for the map ``name``."""
        kind = self.map_producers[name][0]
        return kind, resolve(kind, (kinds, ) if isinstance(kinds, str) else tuple(kinds))

    # ------------------------------------------------------------------ encoders
    def get_encoder(self, name: str) -> nn.Module:
        if name not in self.encoders:
            raise KeyError(f'no encoder named {name!r}; the model declares {sorted(self.encoders)}')
        return self.encoders[name]

    @property
    def frozen_encoders(self) -> set:
        return {p.split('.', 1)[1] for p in self.frozen_parts if p.startswith('encoders.')}

    @property
    def encoders_in_checkpoint(self) -> set:
        return {p.split('.', 1)[1] for p in self.parts_in_checkpoint if p.startswith('encoders.')}

    def _build_part(self, path: str, cfg: dict, default_frozen: bool) -> nn.Module:
        """Build a part and apply the freezing rule (the keys ``frozen`` and ``in_checkpoint`` of its config).

        ``frozen`` (default True for encoders, False for the backbone and neck): every parameter has
        ``requires_grad=False``, the part stays in eval mode whatever ``model.train()`` says, and the segmentor
        runs it under no_grad (a loss that needs a gradient through it, as CLIMS into the CAMs, calls it itself).
        Frozen parameters (of a frozen part, or frozen inside a trained one) are left out of checkpoints and
        refilled from the part as built when one is loaded, if the part loads its weights when it is built: every
        encoder, and backbones / necks whose class says ``weights_at_build = True`` (the CLIP and DINO towers).
        A backbone whose weights come from ``init_cfg`` keeps them (a model built for testing runs no
        ``init_weights``). ``in_checkpoint=True`` keeps them for any part.
        """
        cfg, opts = _split(cfg, PART_KEYS)
        module = MODELS.build(cfg)
        if opts.get('frozen', default_frozen):
            module.requires_grad_(False)
            module.eval()
            self.frozen_parts.add(path)
        refillable = path.startswith('encoders.') or getattr(module, 'weights_at_build', False)
        if opts.get('in_checkpoint', False) or not refillable:
            self.parts_in_checkpoint.add(path)
        return module

    def _run_frozen(self, path: str, fn, *args):
        """``fn(*args)``, under no_grad when the part at ``path`` is frozen."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and path not in self.frozen_parts):
            return fn(*args)

    def run_encoder(self, name: str, ctx: Optional[WSSSContext] = None):
        """One run of encoder ``name``: ``encode_batch(ctx.images)`` if it has that method, else ``encoder()``."""
        enc = self.get_encoder(name)
        if hasattr(enc, 'encode_batch'):
            if ctx is None:
                raise ValueError(f'encoder {name!r} encodes images and needs a batch context')
            return self._run_frozen(f'encoders.{name}', enc.encode_batch, ctx.images)
        return self._run_frozen(f'encoders.{name}', enc)

    def _part(self, path: str) -> nn.Module:
        if path.startswith('encoders.'):
            return self.encoders[path.split('.', 1)[1]]
        return getattr(self, path)

    def train(self, mode: bool = True):
        super().train(mode)
        for path in self.frozen_parts:
            self._part(path).eval()
        return self

    def _frozen_state_keys(self) -> List[str]:
        """State-dict keys (relative to this module) that checkpoints leave out (see :meth:`_build_part`): frozen
        parameters of refillable parts, and the buffers of their modules whose own parameters are all frozen
        (e.g. a frozen BN's running statistics). Buffers of parameter-less modules (memories) are kept."""
        keys = []
        parts = [('backbone', self.backbone), ('neck', self.neck)] + \
            [(f'encoders.{n}', e) for n, e in self.encoders.items()]
        for path, part in parts:
            if part is None or path in self.parts_in_checkpoint:
                continue
            for mod_name, mod in part.named_modules():
                own = list(mod.parameters(recurse=False))
                prefix = f'{path}.' + (f'{mod_name}.' if mod_name else '')
                keys += [prefix + k for k, p in mod.named_parameters(recurse=False) if not p.requires_grad]
                if own and not any(p.requires_grad for p in own):
                    keys += [prefix + k for k, _ in mod.named_buffers(recurse=False)
                             if k not in mod._non_persistent_buffers_set]
        return keys

    @staticmethod
    def _drop_frozen_encoder_state(module, state_dict, prefix, local_metadata):
        for key in module._frozen_state_keys():
            state_dict.pop(prefix + key, None)
        return state_dict

    def _refill_frozen_encoder_state(self, state_dict, prefix, local_metadata, strict, missing_keys,
                                     unexpected_keys, error_msgs):
        """Checkpoints without the frozen weights (the default) load, strictly or not: their weights come from
        the parts as built (pretrained files), exactly as during training."""
        current = None
        for key in self._frozen_state_keys():
            if prefix + key not in state_dict:
                if current is None:
                    current = dict(self.named_parameters())
                    current.update(self.named_buffers())
                state_dict[prefix + key] = current[key].detach()

    def denormalize(self, inputs: Tensor) -> Tensor:
        """Preprocessed inputs -> RGB images in [0, 1], with the data preprocessor's own mean, std and channel
        order (mmcv loads BGR; without ``bgr_to_rgb`` the inputs are BGR and are flipped back here)."""
        pre = self.data_preprocessor
        x = inputs
        if getattr(pre, '_enable_normalize', False):
            x = x * pre.std + pre.mean
        if not getattr(pre, 'channel_conversion', False):
            x = x.flip(1)
        return (x / 255.0).clamp(0, 1)

    def normalize(self, images: Tensor) -> Tensor:
        """The inverse of :meth:`denormalize`: RGB images in [0, 1] -> network inputs (new views of a batch)."""
        pre = self.data_preprocessor
        x = images * 255.0
        if not getattr(pre, 'channel_conversion', False):
            x = x.flip(1)
        if getattr(pre, '_enable_normalize', False):
            x = (x - pre.mean) / pre.std
        return x

    # ------------------------------------------------------------------ features and heads
    def _run_part(self, part: str, feats: Dict[str, Sequence[Tensor]], texts: Dict[str, Any]):
        """Run ``part`` ('cam_head', 'decode_head', 'auxiliary_head') on what it reads: the feature set of its
        ``feats_from`` and, if it ``accepts_text``, ``[feats, text]`` with the output of its ``text_from``."""
        return getattr(self, part)(self._part_inputs(part, feats[self.feats_from[part]], texts))

    def _head_inputs(self, part: str, inputs: Tensor, texts: Dict[str, Any]):
        """Images -> what head ``part`` consumes, in a new backbone forward (+ the neck's only if the head reads
        it): for forwards of one head (CAM views and inference, the decoder's prediction)."""
        feats, _ = self._features(inputs, texts, neck=self.feats_from[part] == 'neck')
        return self._part_inputs(part, feats[self.feats_from[part]], texts)

    def _part_inputs(self, part: str, feats, texts: Dict[str, Any]):
        """What a neck or head consumes: ``[feats, text]`` if it ``accepts_text``, else ``feats``."""
        return [feats, texts[self.text_from[part]]] if part in self.text_from else feats

    def _features(self, inputs: Tensor, texts: Dict[str, Any], neck: bool = True):
        """({'backbone': feats, 'neck': feats}, extras) in one backbone forward (+ the neck's, unless ``neck``
        is False); 'neck' is the backbone's outputs when the model has no neck."""
        if hasattr(self.backbone, 'forward_with_extras'):
            feats, extras = self._run_frozen('backbone', self.backbone.forward_with_extras, inputs)
        else:
            feats, extras = self._run_frozen('backbone', self.backbone, inputs), {}
        out = dict(backbone=feats, neck=feats)
        if self.neck is not None and neck:
            neck_inputs = self._part_inputs('neck', feats, texts)
            if getattr(self.neck, 'uses_extras', False):
                out['neck'], more = self._run_frozen('neck', self.neck, neck_inputs, extras)
                extras = {**extras, **more}
            else:
                out['neck'] = self._run_frozen('neck', self.neck, neck_inputs)
        return out, extras

    def _inference_texts(self) -> Dict[str, Any]:
        """Every text encoder's output (encoded once per ``predict`` batch, not once per crop or view)."""
        if self._predict_texts is not None:
            return self._predict_texts
        return {name: self.run_encoder(name) for name in self.text_encoders}

    def extract_feat(self, inputs: Tensor):
        """mmseg's ``extract_feat``: what the heads read by default (the neck's outputs when there is one)."""
        return self._features(inputs, self._inference_texts())[0]['neck']

    def run_cam_head(self, inputs: Tensor, texts: Dict[str, Any], output: str = 'cams') -> Tensor:
        """Network inputs -> the CAM head's ``output`` ('cams' or 'cam_logits'), a new forward (batch service for
        ``ctx.cam_views``: other scales, local views); ``texts``: the text encoders' outputs by name."""
        if output not in ('cams', 'cam_logits'):
            raise ValueError(f"the CAM head gives 'cams' or 'cam_logits', not {output!r}")
        return self.raw_cams(inputs, texts, logits=output == 'cam_logits')

    def head_loss(self, head: str, logits: Tensor, samples: List[SegDataSample]) -> Dict[str, Tensor]:
        """``loss_by_feat`` of the mmseg head ``head`` ('decode_head' or 'auxiliary_head'; batch service for
        ``ctx.head_loss``)."""
        if head not in ('decode_head', 'auxiliary_head') or getattr(self, head) is None:
            raise ValueError(f'the model has no {head}')
        return getattr(self, head).loss_by_feat(logits, samples)

    def raw_cams(self, inputs: Tensor, texts: Dict[str, Any], inference: bool = False,
                 logits: bool = False) -> Tensor:
        """Images -> CAMs as the CAM head defines them (B, K, h, w); ``inference``: the head's inference CAMs;
        ``logits``: its raw ``cam_logits``. The neck runs only if the CAM head reads it."""
        out = self.cam_head(self._head_inputs('cam_head', inputs, texts))
        if logits:
            return out['cam_logits']
        return self.cam_head.inference_cams(out) if inference else self.cam_head.cams(out)

    @property
    def predict_source(self) -> str:
        src = self.test_cfg.source
        if src == 'auto':
            return 'decoder' if self.decode_head is not None else 'cam'
        if src == 'decoder' and self.decode_head is None:
            raise ValueError("test_cfg.source='decoder' but the model has no decode_head")
        if src == 'cam' and self.cam_head is None:
            raise ValueError("test_cfg.source='cam' but the model has no cam_head")
        return src

    # ------------------------------------------------------------------ inference
    def _inference_labels(self, inputs: Tensor, metas: List[dict], texts: Dict[str, Any]) -> Tensor:
        """Foreground multi-hot labels for inference: the samples' own labels, else the classifier's."""
        K = self.num_classes - 1
        if self.test_cfg.use_img_labels and has_img_labels(metas):
            return img_labels_multi_hot(metas, K, inputs.device)
        cls_logits = self.cam_head(self._head_inputs('cam_head', inputs, texts))['cls_logits']
        return (cls_logits.sigmoid() > self.test_cfg.cls_thr).float()

    def cam_inference(self, inputs: Tensor, metas: List[dict]) -> Tensor:
        """Normalised CAMs (B, K, H, W) at the input size, restricted to the image's classes.

        Raw CAMs are summed over ``cam_scales`` and flips, over slide crops in ``mode='slide'``, and
        max-normalised once over the whole image.
        """
        texts = self._inference_texts()

        def multi_view(x):
            return multi_scale_flip_cams(lambda v: self.raw_cams(v, texts, inference=True), x,
                                         self.test_cfg.cam_scales, self.test_cfg.cam_flip, self.align_corners)

        if self.test_cfg.mode == 'slide':
            cams = slide_cams(multi_view, inputs, self.test_cfg.crop_size, self.test_cfg.stride)
        else:
            cams = multi_view(inputs)
        return mask_absent(max_normalize(cams), self._inference_labels(inputs, metas, texts))

    def cams_to_logits(self, cams: Tensor) -> Tensor:
        """Segmentation logits from normalised CAMs: log of [bg_thr, cams]. Their softmax is the normalised
        score vector, so argmax and SegTTAModel's softmax averaging both behave."""
        return torch.log(add_background(cams, self.test_cfg.bg_thr).clamp_min(1e-6))

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """Segmentation logits at the input size (mmseg's whole and slide inference call this)."""
        if self.predict_source == 'cam':
            return self.cams_to_logits(self.cam_inference(inputs, batch_img_metas))
        head_inputs = self._head_inputs('decode_head', inputs, self._inference_texts())
        logits = self.decode_head.predict(head_inputs, batch_img_metas, self.test_cfg)
        return logits if self.keep_channels is None else logits[:, self.keep_channels]

    def predict(self, inputs: Tensor, data_samples: Optional[List[SegDataSample]] = None):
        if data_samples is not None:
            metas = [s.metainfo for s in data_samples]
        else:
            metas = [dict(ori_shape=inputs.shape[2:], img_shape=inputs.shape[2:], pad_shape=inputs.shape[2:],
                          padding_size=[0, 0, 0, 0])] * inputs.shape[0]
        self._predict_texts = self._inference_texts()  # text encoders run once per batch, not once per crop
        try:
            source = self.predict_source
            want_cams = source == 'cam' or (self.cam_head is not None and self.test_cfg.output_cams)
            cams = self.cam_inference(inputs, metas) if want_cams else None
            # CAM source: the segmentation is exactly the CAMs' (whole or slide), so the two fields agree
            seg_logits = self.cams_to_logits(cams) if source == 'cam' else self.inference(inputs, metas)
        finally:
            self._predict_texts = None
        results = self.postprocess_result(seg_logits, data_samples)
        if cams is not None:
            for i, res in enumerate(results):
                res.cams = PixelData(data=restore_to_image(cams[i], metas[i], self.align_corners))
        return results

    def _forward(self, inputs: Tensor, data_samples=None) -> Tensor:
        """Raw network output, as mmseg's ``_forward``: decoder logits, or CAM logits without a decoder."""
        part = 'decode_head' if self.decode_head is not None else 'cam_head'
        out = getattr(self, part)(self._head_inputs(part, inputs, self._inference_texts()))
        return out if part == 'decode_head' else out['cam_logits']

    # ------------------------------------------------------------------ training
    @staticmethod
    def _ignore_padding(labels: Tensor, data_samples, ignore_index: int = 255) -> Tensor:
        return labels.masked_fill(~image_region(data_samples, labels.shape[-2:], labels.device), ignore_index)

    def run_pseudo_label(self, name: str, ctx: WSSSContext) -> Tensor:
        if name not in self.pseudo_label_sources:
            raise KeyError(f'no pseudo-label source named {name!r}; the model declares '
                           f'{sorted(self.pseudo_label_sources)}')
        return self._ignore_padding(self.pseudo_label_sources[name](ctx).long(), ctx.data_samples)

    def build_context(self, inputs: Tensor, data_samples: List[SegDataSample]) -> WSSSContext:
        """Run every network of the model once on the batch and wrap the results (see :class:`WSSSContext`)."""
        ctx = WSSSContext(inputs, data_samples, img_labels_multi_hot(data_samples, self.num_classes - 1,
                                                                     inputs.device), current_iter(), self,
                          training=self.training)
        ctx.texts = {name: ctx.encoded(name) for name in self.text_encoders}
        ctx.text = ctx.texts.get(self.text_encoder)
        feats, ctx.extras = self._features(inputs, ctx.texts)
        ctx.feats, ctx.backbone_feats = feats['neck'], feats['backbone']
        if self.cam_head is not None:
            ctx.cam_outputs = self._run_part('cam_head', feats, ctx.texts)
            ctx.cams = self.cam_head.cams(ctx.cam_outputs)
        if self.decode_head is not None:
            ctx.seg_logits = self._run_part('decode_head', feats, ctx.texts)
        if self.auxiliary_head is not None:
            ctx.aux_logits = self._run_part('auxiliary_head', feats, ctx.texts)
        for name, head in self.heads.items():
            ctx.head_outputs[name] = head(ctx.feats, ctx.extras)
        return ctx

    @torch.no_grad()
    def pseudo_labels_for(self, inputs: Tensor, data_samples: List[SegDataSample]) -> Dict[str, Tensor]:
        """Every pseudo-label source's labels (B, H, W) for a batch, without gradients, in the model's current
        mode (hooks call it in eval mode on fixed images)."""
        ctx = self.build_context(inputs, data_samples)
        return {name: ctx.pseudo_label(name) for name in self.pseudo_label_sources}

    def loss(self, inputs: Tensor, data_samples: List[SegDataSample]) -> Dict[str, Tensor]:
        """The total loss: the sum of the named terms active at this iteration, each weighted once."""
        if not self.loss_terms:
            raise ValueError('the model has no loss terms: set `losses=dict(name=dict(type=...), ...)`')
        if self.keep_channels is not None:
            raise ValueError('test_cfg.keep_channels is for inference with a converted model; it does not train')
        ctx = self.build_context(inputs, data_samples)
        losses = {}
        for name, term in self.loss_terms.items():
            sched = self.term_schedules[name]
            if not sched.active(ctx.iter):
                continue
            labels = [ctx.pseudo_label(s) for s in sched.label_names]
            out = term(ctx, labels=None if sched.labels is None else labels[0] if len(labels) == 1 else labels)
            losses.update(add_prefix({k: v * sched.weight if is_loss_key(k) else v for k, v in out.items()}, name))
        self._keep_parameters_in_graph(losses)
        return losses

    def parse_losses(self, losses: Dict[str, Tensor]):
        """mmengine's ``parse_losses`` with mmseg's rule made exact: the total is the sum of the loss keys
        (:func:`is_loss_key`: ``<term>.loss`` or ``<term>.loss_*``); every other key is logged, never summed
        (mmengine would sum any key *containing* 'loss', e.g. a logged ``seed_loss_ratio``)."""
        log_vars = []
        for key, value in losses.items():
            if isinstance(value, torch.Tensor):
                log_vars.append([key, value.mean()])
            elif isinstance(value, (list, tuple)) and all(isinstance(v, torch.Tensor) for v in value):
                log_vars.append([key, sum(v.mean() for v in value)])
            else:
                raise TypeError(f'{key} is not a tensor or a list of tensors')
        loss = sum(v for k, v in log_vars if is_loss_key(k))
        return loss, OrderedDict([['loss', loss]] + log_vars)

    def _keep_parameters_in_graph(self, losses: Dict[str, Tensor]) -> None:
        """Add 0 x (every trainable parameter) to the first loss, so each parameter gets a gradient (zero when
        no active term uses it, as with the official AFA code's 0-weighted losses) and DDP needs no
        ``find_unused_parameters``. The logged values are unchanged."""
        params = [p for p in self.parameters() if p.requires_grad]
        if not params:
            return
        anchor = 0.0 * sum(p.sum() for p in params)
        key = next((k for k in losses if is_loss_key(k)), None)
        if key is None:  # no term active at this iteration
            losses['loss_anchor'] = anchor
        else:
            losses[key] = losses[key] + anchor
