import torch
import torch.nn.functional as F
from mmseg.models.backbones import MixVisionTransformer

from mmseg_wsss.models.backbones import MixVisionTransformerWithAttn

TINY = dict(embed_dims=8, num_layers=[1, 1, 1, 2], num_heads=[1, 2, 2, 4], strides=[4, 2, 2, 1],
            sr_ratios=[4, 2, 1, 1], drop_path_rate=0.0)


def test_same_features_as_mmseg_mit_plus_attention_logits():
    torch.manual_seed(0)
    net = MixVisionTransformerWithAttn(**TINY).eval()
    ref = MixVisionTransformer(**TINY).eval()
    ref.load_state_dict(net.state_dict())  # a subclass: same keys, so mmseg's MiT checkpoints load unchanged
    x = torch.randn(2, 3, 64, 48)
    feats, extras = net.forward_with_extras(x)
    for a, b in zip(feats, ref(x)):
        assert torch.allclose(a, b, atol=1e-5)
    h, w = extras['attn_hw']
    assert (h, w) == feats[-1].shape[-2:] and extras['attn_logits'].shape == (2, 2 * 4, h * w, h * w)
    # the logits are what nn.MultiheadAttention softmaxes (after its 1/sqrt(d) scaling): check against its weights
    layer = net.layers[3]
    x3 = x
    for i in range(3):
        x3, hw = net.layers[i][0](x3)
        for blk in net.layers[i][1]:
            x3 = blk(x3, hw)
        x3 = net.layers[i][2](x3)
        x3 = x3.transpose(1, 2).reshape(2, -1, *hw)
    tokens, hw = layer[0](x3)
    blk = layer[1][0]
    q = blk.norm1(tokens)
    _, weights = blk.attn.attn(q.transpose(0, 1), q.transpose(0, 1), q.transpose(0, 1), need_weights=True,
                               average_attn_weights=False)
    d = blk.attn.attn.embed_dim // blk.attn.attn.num_heads
    expected = F.softmax(extras['attn_logits'][:, :4] / d ** 0.5, dim=-1)
    assert torch.allclose(weights, expected, atol=1e-5)
