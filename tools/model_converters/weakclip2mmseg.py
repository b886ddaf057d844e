"""WeakCLIP's released refinement network (hustvl/WeakCLIP, an mmseg 0.x / mmcv 1.x runner checkpoint) -> this
project's official-layout WeakCLIP config (mmseg's convention: ``tools/model_converters/*2mmseg.py``).

    python tools/model_converters/weakclip2mmseg.py --trust-pickle voc_weakclip.pth pretrained/weakclip_voc_mmseg.pth
    python tools/test.py configs/weakclip/weakclip-official_vit-b16_8xb2-20k_voc12aug-512x512.py \\
        pretrained/weakclip_voc_mmseg.pth

The file is ``{meta, state_dict, optimizer}``; mmcv's meta holds more than tensors, so ``--trust-pickle`` (load
with ``weights_only=False``) is needed for the released file: use it only for a file you trust. Both CLIP towers
come from the file (the official training let them drift from OpenAI's weights: ``lr_mult=0`` with an absolute
``min_lr``), so the config builds them with ``pretrained=None``. Mapping (every key of the file must map):

* ``backbone.{conv1, class_embedding, positional_embedding, ln_pre, transformer, ln_post, proj}`` ->
  ``backbone.visual.*``, with DenseCLIP's double class embedding folded: the official tower adds
  ``class_embedding`` to the class token's position embedding although the class token already is
  ``class_embedding``, so ``positional_embedding[0] += class_embedding`` gives the same tokens in open_clip's
  tower;
* the adapter inside the official backbone, ``backbone.fpn1.{0,1,2,4}`` / ``fpn2.{0,1}`` / ``fpn3`` /
  ``fpn4.0`` -> ``neck.adapter.{pre_norms.0, upsample_4x.0, upsample_4x.1, upsample_4x.3}`` /
  ``{pre_norms.1, upsample_2x.0}`` / ``pre_norms.2`` / ``pre_norms.3``;
* ``text_encoder.*`` -> ``encoders.text.clip.*``, ``contexts[0]`` -> ``encoders.text.ctx`` (open_clip's unused
  ``logit_scale``, which the file lacks, is set to OpenAI's log(100));
* ``context_decoder.{text_proj, memory_proj, decoder, out_proj}`` -> ``neck.matcher.text_to_pixel.{query_proj,
  memory_proj, layers, out_proj}``, ``context_decoder.{anti_decoder, anti_out_proj}`` ->
  ``neck.matcher.pixel_to_text.{layers, out_proj}``, and the official code's ONE pair of projections shared by
  both directions -> ``pixel_to_text.query_proj = memory_proj``, ``pixel_to_text.memory_proj = text_proj``
  (``CoAttentionMatcher(shared_proj=True)``); ``gamma`` / ``beta`` -> ``neck.matcher.alpha`` / ``beta``;
* ``neck.*`` (mmseg's FPN) -> ``neck.fpn.*``; ``decode_head.*`` (FPNHeadDGCN: mmseg's FPNHead at inference)
  unchanged.

VOC's network has 21 outputs (background first); COCO's has 91 (prompted with background and COCO's 90
category-id names, trained on contiguous labels 0-80): it converts into the 91-slot official COCO config, which
keeps channels 0-80 at prediction (``test_cfg.keep_channels``).

    python tools/model_converters/weakclip2mmseg.py --trust-pickle coco_weakclip.pth pretrained/weakclip_coco_mmseg.pth
    python tools/test.py configs/weakclip/weakclip-official_vit-b16_4xb6-40k_coco14-512x512.py \
        pretrained/weakclip_coco_mmseg.pth
The output carries ``meta.converted_from``, the source file's ``sha256`` and the dataset's classes.
"""
import math
import os.path as osp
import sys
from collections import OrderedDict

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
from mmseg_wsss.utils.checkpoint_convert import convert_cli  # noqa: E402

VISUAL = ('conv1.', 'class_embedding', 'positional_embedding', 'ln_pre.', 'transformer.', 'ln_post.', 'proj')
# the official backbone's adapter (DenseCLIP's fpn1-4) -> CLIPPyramidAdapter (mmseg's Feature2Pyramid + GroupNorms)
ADAPTER = OrderedDict([('fpn1.0.', 'pre_norms.0.'), ('fpn1.1.', 'upsample_4x.0.'), ('fpn1.2.', 'upsample_4x.1.'),
                       ('fpn1.4.', 'upsample_4x.3.'), ('fpn2.0.', 'pre_norms.1.'), ('fpn2.1.', 'upsample_2x.0.'),
                       ('fpn3.', 'pre_norms.2.'), ('fpn4.0.', 'pre_norms.3.')])
DECODER = OrderedDict([('text_proj.', 'text_to_pixel.query_proj.'), ('memory_proj.', 'text_to_pixel.memory_proj.'),
                       ('decoder.', 'text_to_pixel.layers.'), ('out_proj.', 'text_to_pixel.out_proj.'),
                       ('anti_decoder.', 'pixel_to_text.layers.'), ('anti_out_proj.', 'pixel_to_text.out_proj.')])
# the shared projections, registered a second time under the pixel-to-text direction (shared_proj=True)
SHARED = OrderedDict([('text_to_pixel.memory_proj.', 'pixel_to_text.query_proj.'),
                      ('text_to_pixel.query_proj.', 'pixel_to_text.memory_proj.')])
OPENAI_LOGIT_SCALE = math.log(100.0)
COCO_SLOTS = 91  # background + COCO's category ids 1-90


def _renamed(key: str, table: OrderedDict):
    for old, new in table.items():
        if key.startswith(old):
            return new + key[len(old):]
    return None


def convert_weakclip(state: dict) -> OrderedDict:
    """The official ``WeakCLIP`` state dict in this project's names (see the module docstring). Raises ValueError
    naming the first key that has no place, or a missing part."""
    import torch
    out = OrderedDict()
    for key, value in state.items():
        head, _, rest = key.partition('.')
        if head == 'backbone' and rest.startswith(VISUAL):
            if rest == 'positional_embedding':
                if 'backbone.class_embedding' not in state:
                    raise ValueError('backbone.positional_embedding without backbone.class_embedding')
                value = value.clone()
                value[0] += state['backbone.class_embedding'].to(value.dtype)
            out['backbone.visual.' + rest] = value
        elif head == 'backbone' and _renamed(rest, ADAPTER):
            out['neck.adapter.' + _renamed(rest, ADAPTER)] = value
        elif head == 'text_encoder':
            out['encoders.text.clip.' + rest] = value
        elif key == 'contexts':
            if value.dim() != 3 or value.shape[0] != 1:
                raise ValueError(f'contexts of shape {tuple(value.shape)}: expected (1, n_ctx, width)')
            out['encoders.text.ctx'] = value[0]
        elif head == 'context_decoder' and _renamed(rest, DECODER):
            out['neck.matcher.' + _renamed(rest, DECODER)] = value
        elif key in ('gamma', 'beta'):
            out['neck.matcher.' + ('alpha' if key == 'gamma' else 'beta')] = value
        elif head == 'neck':
            out['neck.fpn.' + rest] = value
        elif head == 'decode_head':
            out[key] = value
        else:
            raise ValueError(f'unexpected key {key!r}: not a WeakCLIP (hustvl/WeakCLIP) checkpoint')
    for part in ('backbone.visual.positional_embedding', 'encoders.text.ctx', 'neck.matcher.alpha',
                 'neck.matcher.beta', 'decode_head.conv_seg.weight'):
        if part not in out:
            raise ValueError(f'no {part} after conversion: not a WeakCLIP checkpoint with the decoupled '
                             'co-attention (if_decouple=True)')
    for key in [k for k in out if k.startswith('neck.matcher.text_to_pixel.')]:
        shared = _renamed(key[len('neck.matcher.'):], SHARED)
        if shared:
            out['neck.matcher.' + shared] = out[key]
    out['encoders.text.clip.logit_scale'] = torch.tensor(OPENAI_LOGIT_SCALE)
    return out


def dataset_meta_for(state: OrderedDict) -> dict:
    from mmseg_wsss.utils.checkpoint_convert import dataset_meta
    channels = state['decode_head.conv_seg.weight'].shape[0]
    if channels == 21:
        return dataset_meta(20)
    if channels == COCO_SLOTS:
        return dataset_meta(80)  # channels 0-80, kept at prediction
    raise ValueError(f'a {channels}-way decoder: neither VOC (21) nor COCO (91 slots)')


def main(argv=None):
    def convert(state):
        out = convert_weakclip(state)
        channels = out['decode_head.conv_seg.weight'].shape[0]
        note = ' (91 COCO slots: the official COCO config keeps channels 0-80)' if channels == COCO_SLOTS else ''
        return out, note, dict(dataset_meta=dataset_meta_for(out))

    convert_cli(argv, __doc__.split('\n')[0], "WeakCLIP's released refinement network (mmcv 1.x checkpoint)",
                'weakclip2mmseg', convert)


if __name__ == '__main__':
    main()
