"""PAR (AFA Eqs. 5-7): the vectorised form against the per-dilation loop and a per-pixel transcription."""
import math

import torch

from mmseg_wsss.models.refiners import PAR, par_refine

from .par_reference import par_refine_loop


def transcription(img, mask, dilations, num_iter, w1=0.3, w2=0.01):
    """Per pixel, per neighbour, straight from the definition (replicate borders = clamped indices)."""
    C, H, W = mask.shape
    dirs = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]
    offs = [(dy * d, dx * d, d * (math.sqrt(2) if dy and dx else 1)) for d in dilations for dy, dx in dirs]
    dist = torch.tensor([o[2] for o in offs])
    k_pos = torch.softmax(-(dist / dist.std() / w1) ** 2, 0)
    aff = torch.zeros(len(offs), H, W)
    for y in range(H):
        for x in range(W):
            nb = torch.stack([img[:, min(max(y + dy, 0), H - 1), min(max(x + dx, 0), W - 1)] for dy, dx, _ in offs],
                             1)  # 3, K
            std = nb.std(dim=1, keepdim=True)
            k = (-((nb - img[:, y, x, None]).abs() / (std + 1e-8) / w1) ** 2).mean(0)
            aff[:, y, x] = torch.softmax(k, 0) + w2 * k_pos
    for _ in range(num_iter):
        new = torch.zeros_like(mask)
        for y in range(H):
            for x in range(W):
                for k, (dy, dx, _) in enumerate(offs):
                    new[:, y, x] += aff[k, y, x] * mask[:, min(max(y + dy, 0), H - 1), min(max(x + dx, 0), W - 1)]
        mask = new
    return mask


def test_par_matches_transcription_and_loop():
    torch.manual_seed(0)
    img, mask = torch.rand(1, 3, 7, 6), torch.rand(1, 2, 7, 6)
    ref = transcription(img[0], mask[0], (1, 2), 2)
    assert torch.allclose(par_refine(img, mask, (1, 2), 2), ref[None], atol=1e-5)
    assert torch.allclose(par_refine_loop(img, mask, (1, 2), 2), ref[None], atol=1e-5)
    img, mask = torch.rand(2, 3, 40, 33), torch.rand(2, 4, 20, 17)  # masks resized to the image first
    assert torch.allclose(par_refine(img, mask), par_refine_loop(img, mask), atol=1e-5)


def test_par_follows_colour_edges():
    """A mask that leaks across a colour edge is pulled back to the edge's side it belongs to."""
    img = torch.zeros(1, 3, 16, 16)
    img[..., 8:] = 1.0                      # left black, right white
    img += 0.01 * torch.rand_like(img)
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., :10] = 1.0                    # object = left half, leaking 2 columns into the white side
    out = PAR(dilations=(1, 2, 4), num_iter=10)(img, mask)
    assert out[..., :, 8:10].mean() < 0.5 < out[..., :, 2:6].mean()
