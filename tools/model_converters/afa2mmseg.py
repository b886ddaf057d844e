"""A checkpoint trained with AFA's (or ECA's) official code -> this project's AFA / ECA configs.

    python tools/model_converters/afa2mmseg.py work_dir_voc/checkpoints/wetr_iter_20000.pth pretrained/afa_mmseg.pth
    python tools/test.py configs/afa/afa_mit-b1_2xb2-20k_voc12aug-512x512.py pretrained/afa_mmseg.pth \\
        --cfg-options model.decode_head.type=SegformerOfficialHead

Neither AFA nor ECA released trained weights; this is for users who trained with the official code (``WeTr``,
saved as ``torch.save(DDP.state_dict())``: 195 keys under ``module.``). Mapping:
* ``encoder.*`` (the official MiT) -> ``backbone.*`` (mmseg's ``MixVisionTransformer`` names): patch embeddings
  -> ``layers.i.0``, blocks -> ``layers.i.1.j`` with the attention's q and kv concatenated into
  ``attn.attn.in_proj_weight`` / ``in_proj_bias``, its proj -> ``out_proj``, the Mix-FFN's linear layers -> 1x1
  convs (``ffn.layers.0`` / ``4``) and its depth-wise conv -> ``ffn.layers.1``, the stage norms -> ``layers.i.2``;
* ``decoder.linear_c{k}.proj`` -> ``decode_head.convs.{k-1}.conv`` (as 1x1 convs), ``decoder.linear_fuse.{conv,bn}``
  -> ``decode_head.fusion_conv.{conv,bn}``, ``decoder.linear_pred`` -> ``decode_head.conv_seg``: the official
  head's layout, which needs ``SegformerOfficialHead`` (mmseg's ``SegformerHead`` normalises each level and
  concatenates them in the other order);
* ``attn_proj`` -> ``heads.affinity.proj`` (AFA's affinity from attention), ``classifier.weight`` ->
  ``cam_head.classifier.weight``.
ECA's DINO is not in its checkpoints (frozen, rebuilt from its own file) and neither is its prototype memory (the
official code keeps it outside the model): a converted ECA checkpoint loads with that one buffer missing
(``pseudo_label_sources.carm.memory.bank`` keeps its random initialisation; tools/test.py warns, and inference
does not use it). Every key must be
mapped; the output carries ``meta.converted_from``, the file's ``sha256`` and the dataset's classes.
"""
import os.path as osp
import re
import sys
from collections import OrderedDict

import torch

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
from mmseg_wsss.utils.checkpoint_convert import convert_cli  # noqa: E402

MIT_BLOCK = {'norm1': 'norm1', 'norm2': 'norm2', 'attn.proj': 'attn.attn.out_proj', 'attn.sr': 'attn.sr',
             'attn.norm': 'attn.norm', 'mlp.fc1': 'ffn.layers.0', 'mlp.dwconv.dwconv': 'ffn.layers.1',
             'mlp.fc2': 'ffn.layers.4'}


def convert_mit(encoder: dict) -> OrderedDict:
    """The official MiT's tensors (keys without ``encoder.``) in mmseg's ``MixVisionTransformer`` names."""
    out = OrderedDict()
    for key, value in encoder.items():
        m = re.fullmatch(r'patch_embed(\d)\.(proj|norm)\.(weight|bias)', key)
        if m:
            out[f'layers.{int(m[1]) - 1}.0.{"projection" if m[2] == "proj" else "norm"}.{m[3]}'] = value
            continue
        m = re.fullmatch(r'norm(\d)\.(weight|bias)', key)
        if m:
            out[f'layers.{int(m[1]) - 1}.2.{m[2]}'] = value
            continue
        m = re.fullmatch(r'block(\d)\.(\d+)\.(.+)\.(weight|bias)', key)
        if not m:
            raise ValueError(f'unexpected encoder key {key!r}: not the official MiT')
        stage, block, name, kind = int(m[1]) - 1, m[2], m[3], m[4]
        prefix = f'layers.{stage}.1.{block}.'
        if name == 'attn.q':
            kv = encoder[f'block{m[1]}.{block}.attn.kv.{kind}']
            out[prefix + f'attn.attn.in_proj_{kind}'] = torch.cat([value, kv], dim=0)
        elif name == 'attn.kv':
            continue  # joined with q above
        elif name in MIT_BLOCK:
            if name in ('mlp.fc1', 'mlp.fc2') and kind == 'weight':
                value = value[:, :, None, None]  # nn.Linear -> the 1x1 conv of mmseg's Mix-FFN
            out[prefix + f'{MIT_BLOCK[name]}.{kind}'] = value
        else:
            raise ValueError(f'unexpected encoder key {key!r}: not the official MiT')
    return out


def convert_afa(state: dict) -> OrderedDict:
    """The official ``WeTr`` state dict (without ``module.``) in this project's AFA / ECA names."""
    out = OrderedDict()
    out.update((f'backbone.{k}', v) for k, v in convert_mit(
        OrderedDict((k[len('encoder.'):], v) for k, v in state.items() if k.startswith('encoder.'))).items())
    for key, value in state.items():
        if key.startswith('encoder.'):
            continue
        m = re.fullmatch(r'decoder\.linear_c(\d)\.proj\.(weight|bias)', key)
        if m:
            out[f'decode_head.convs.{int(m[1]) - 1}.conv.{m[2]}'] = value[:, :, None, None] if m[2] == 'weight' \
                else value
        elif key.startswith('decoder.linear_fuse.'):
            out['decode_head.fusion_conv.' + key[len('decoder.linear_fuse.'):]] = value
        elif key.startswith('decoder.linear_pred.'):
            out['decode_head.conv_seg.' + key[len('decoder.linear_pred.'):]] = value
        elif key.startswith('attn_proj.'):
            out['heads.affinity.proj.' + key[len('attn_proj.'):]] = value
        elif key == 'classifier.weight':
            out['cam_head.classifier.weight'] = value
        else:
            raise ValueError(f'unexpected key {key!r}: not the official AFA / ECA WeTr')
    if 'cam_head.classifier.weight' not in out:
        raise ValueError('no classifier.weight: not the official AFA / ECA WeTr')
    return out


def main(argv=None):
    def convert(state):
        return convert_afa(state), '', dict(decode_head='SegformerOfficialHead')

    convert_cli(argv, __doc__.split('\n')[0], "a checkpoint saved by AFA's or ECA's official training script",
                'afa2mmseg', convert)
    print('test it with --cfg-options model.decode_head.type=SegformerOfficialHead')


if __name__ == '__main__':
    main()
