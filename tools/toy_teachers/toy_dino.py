"""toy-dino: a stand-in for DINO ViT-S/8, trained here without labels or captions on unlabelled toy scenes, on CPU
in a few minutes.

Same class as the real teacher (timm VisionTransformer, patch 8, 6 heads; tiny width and depth: DINO_ARCHS
['toy-dino']) and the same file layout (a plain timm state dict), so `DINOViTEncoder(arch='toy-dino',
checkpoint=...)` loads it through the loader that loads dino_deitsmall8_pretrain.pth.

It is not trained by DINO's self-distillation. We tried it first (student / EMA teacher, 2 global + 4 local crops,
centring and sharpening, 512 prototypes, batch 32): after 300 steps the loss stayed at log(512), the uniform
output, with the key affinity no better than at initialisation (longer runs were not tried). What ECA reads from DINO is the last
block's patch keys (their cosine affinity) and the class-token query, so toy-dino is trained for exactly that
with a self-supervised dense contrastive loss on the last block's keys (:func:`dense_key_loss`: corresponding
points of two overlapping, independently colour-jittered crops agree; keys of other images are negatives). The
class-token query is not trained by it; the report measures what it gives anyway.
"""
import time

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.ops import roi_align

from mmseg_wsss.models.dino import build_dino_vit, last_block_qkv
from mmseg_wsss.models.dino.vit import IMAGENET_MEAN, IMAGENET_STD

MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def random_boxes(rng, n: int, size: int, scale, ratio=(3 / 4, 4 / 3)) -> torch.Tensor:
    """RandomResizedCrop boxes (n, 4) as x0, y0, x1, y1 in pixels of a ``size`` image."""
    area = rng.uniform(*scale, n) * size * size
    r = np.exp(rng.uniform(np.log(ratio[0]), np.log(ratio[1]), n))
    w = np.clip(np.sqrt(area * r), 4, size)
    h = np.clip(np.sqrt(area / r), 4, size)
    x0 = rng.uniform(0, size - w)
    y0 = rng.uniform(0, size - h)
    return torch.tensor(np.stack([x0, y0, x0 + w, y0 + h], 1), dtype=torch.float32)


def overlapping_boxes(rng, n: int, size: int, scale=(0.3, 1.0), jitter: float = 0.3):
    """Pairs of crop boxes (n, 4) each (x0, y0, x1, y1) that overlap: the second is the first shifted by up to
    ``jitter`` of its side and rescaled by up to 1 +- ``jitter``, clipped to the image."""
    a = random_boxes(rng, n, size, scale, ratio=(1, 1)).numpy()
    side = a[:, 2] - a[:, 0]
    s2 = np.clip(side * rng.uniform(1 - jitter, 1 + jitter, n), 8, size)
    cx = (a[:, 0] + a[:, 2]) / 2 + rng.uniform(-jitter, jitter, n) * side
    cy = (a[:, 1] + a[:, 3]) / 2 + rng.uniform(-jitter, jitter, n) * side
    x0 = np.clip(cx - s2 / 2, 0, size - s2)
    y0 = np.clip(cy - s2 / 2, 0, size - s2)
    b = np.stack([x0, y0, x0 + s2, y0 + s2], 1)
    return torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32)


def jitter_colours(rng, x: torch.Tensor) -> torch.Tensor:
    """Flip-free colour augmentation of RGB [0, 1] crops (brightness, contrast, saturation, channel permutation
    for hue, grayscale), then ImageNet normalisation: the toy world shares one colour pool among all classes, so
    the keys must not encode colour."""
    B = x.shape[0]
    b = torch.from_numpy(rng.uniform(0.6, 1.4, B)).float()[:, None, None, None]
    c = torch.from_numpy(rng.uniform(0.6, 1.4, B)).float()[:, None, None, None]
    s = torch.from_numpy(rng.uniform(0.4, 1.6, B)).float()[:, None, None, None]
    y = x * b
    m = y.mean((1, 2, 3), keepdim=True)
    y = (y - m) * c + m
    grey = y.mean(1, keepdim=True)
    y = (y - grey) * s + grey
    perm = torch.stack([torch.from_numpy(rng.permutation(3)) for _ in range(B)])
    y = torch.gather(y, 1, perm[:, :, None, None].expand_as(y))
    g = torch.from_numpy(rng.random(B) < 0.2)[:, None, None, None]
    y = torch.where(g, y.mean(1, keepdim=True).expand_as(y), y).clamp(0, 1)
    return (y - MEAN) / STD


def dense_key_loss(k1: torch.Tensor, k2: torch.Tensor, box1: torch.Tensor, box2: torch.Tensor, grid: int,
                   tau: float = 0.2) -> torch.Tensor:
    """Dense contrastive loss on last-block keys: each patch of view 1 whose centre falls inside view 2 is pulled
    towards view 2's key at that point (bilinear) and pushed from view 2's keys of the *other* images of the batch
    (InfoNCE, temperature ``tau``). Keys of one image are never pushed apart, so regions of one texture may
    share a key. k1, k2: (B, grid*grid, C) L2-normalised."""
    B, N, C = k1.shape
    centres = (torch.arange(grid, dtype=torch.float32) + 0.5) / grid
    cy, cx = torch.meshgrid(centres, centres, indexing='ij')
    w1 = (box1[:, 2] - box1[:, 0])[:, None]
    px = box1[:, 0:1] + cx.reshape(1, -1) * w1  # image coordinates of view-1 patch centres (B, N)
    py = box1[:, 1:2] + cy.reshape(1, -1) * w1
    w2 = (box2[:, 2] - box2[:, 0])[:, None]
    u = (px - box2[:, 0:1]) / w2 * 2 - 1  # in view 2's [-1, 1] coordinates
    v = (py - box2[:, 1:2]) / w2 * 2 - 1
    inside = (u.abs() < 1 - 1 / grid) & (v.abs() < 1 - 1 / grid)
    k2map = k2.transpose(1, 2).reshape(B, C, grid, grid)
    pos = F.grid_sample(k2map, torch.stack([u, v], -1)[:, :, None], align_corners=False)[..., 0].transpose(1, 2)
    pos = F.normalize(pos, dim=-1)  # (B, N, C)
    q = k1[inside]  # (M, C)
    img = torch.arange(B)[:, None].expand(B, N)[inside]
    l_pos = (q * pos[inside]).sum(-1, keepdim=True) / tau
    l_neg = q @ k2.reshape(B * N, C).t() / tau  # (M, B*N)
    same = img[:, None] == torch.arange(B).repeat_interleave(N)[None]
    l_neg = l_neg.masked_fill(same, float('-inf'))
    logits = torch.cat([l_pos, l_neg], 1)
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long))


def train_toy_dino(images: np.ndarray, steps: int = 600, batch: int = 32, lr: float = 1e-3, seed: int = 0,
                   log_every: int = 100):
    """Train toy-dino's backbone on uint8 (N, S, S, 3) unlabelled scenes with :func:`dense_key_loss` on two
    overlapping, independently colour-jittered 64 px crops per scene; returns it in eval mode."""
    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 1])
    vit = build_dino_vit('toy-dino')
    grid = 64 // vit.patch_embed.patch_size[0]
    opt = torch.optim.AdamW(vit.parameters(), lr=lr, weight_decay=0.04)
    warmup = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (
        1 + np.cos(np.pi * min(s, steps) / steps)))
    data = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    t0 = time.time()
    vit.train()
    for step in range(steps):
        x = data[torch.from_numpy(rng.choice(len(data), size=batch, replace=False))]
        b1, b2 = overlapping_boxes(rng, batch, x.shape[-1])
        views = [jitter_colours(rng, roi_align(x, [b[None] for b in bx], output_size=64, aligned=True))
                 for bx in (b1, b2)]
        k1, k2 = (F.normalize(last_block_qkv(vit, v)['k'][:, 1:], dim=-1) for v in views)
        loss = (dense_key_loss(k1, k2, b1, b2, grid) + dense_key_loss(k2, k1, b2, b1, grid)) / 2
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if log_every and (step % log_every == 0 or step == steps - 1):
            print(f'toy-dino step {step + 1}/{steps} loss {loss.item():.4f} ({time.time() - t0:.0f} s)', flush=True)
    return vit.eval()


def _auc(score: np.ndarray, target: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula."""
    from scipy.stats import rankdata
    pos = target.astype(bool)
    n_pos, n_neg = pos.sum(), (~pos).sum()
    if n_pos == 0 or n_neg == 0:
        return float('nan')
    ranks = rankdata(score)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@torch.no_grad()
def evaluate_toy_dino(vit, images: np.ndarray, labels: np.ndarray, gamma: float = 0.15, purity: float = 0.75):
    """What ECA reads from DINO, on held-out labelled scenes (full 128 px images, patch 8):
    * key affinity: for patch pairs of one image (patches at least ``purity`` one label) of which at least one
      is an object patch (background-background pairs dominate otherwise), ROC AUC of the key cosine for "same
      label", and at ECA's threshold gamma (0.15) the precision and recall of "same label";
    * the threshold with the best F1 of "same label" over 0.00, 0.05, ..., 0.95 (``best_f1_gamma``), with its
      precision and recall: toy-dino's keys are not DINO's, so ECA's 0.15 is not theirs (configs/eca/README.md);
    * foreground cue: ROC AUC of the class-token query / patch key cosine for "object patch"."""
    x = (torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0 - MEAN) / STD
    out = last_block_qkv(vit, x)
    keys = F.normalize(out['k'][:, 1:], dim=-1)
    q = F.normalize(out['q'][:, 0], dim=-1)
    gh, gw = out['grid']
    p = images.shape[1] // gh
    aff_s, aff_t, fg_s, fg_t = [], [], [], []
    for i in range(len(images)):
        lab = labels[i].reshape(gh, p, gw, p).transpose(0, 2, 1, 3).reshape(gh * gw, p * p)
        major = np.array([np.bincount(r[r < 255], minlength=256).argmax() if (r < 255).any() else 255 for r in lab])
        pure = np.array([(r == m).mean() >= purity for r, m in zip(lab, major)])
        idx = np.flatnonzero(pure)
        k = keys[i, idx]
        sim = (k @ k.t()).numpy()
        iu = np.triu_indices(len(idx), 1)
        obj = (major[idx][:, None] > 0) | (major[idx][None] > 0)
        keep = obj[iu]
        aff_s.append(sim[iu][keep])
        aff_t.append((major[idx][:, None] == major[idx][None])[iu][keep])
        fg_s.append((k @ q[i]).numpy())
        fg_t.append(major[idx] > 0)
    aff_s, aff_t = np.concatenate(aff_s), np.concatenate(aff_t)
    fg_s, fg_t = np.concatenate(fg_s), np.concatenate(fg_t)
    above = aff_s > gamma
    sweep = []
    for g in np.round(np.arange(0.0, 1.0, 0.05), 2):
        a = aff_s > g
        prec = float(aff_t[a].mean()) if a.any() else 0.0
        rec = float(a[aff_t].mean())
        sweep.append((2 * prec * rec / max(prec + rec, 1e-12), float(g), prec, rec))
    f1, best_g, best_p, best_r = max(sweep)
    return dict(best_f1_gamma=best_g, best_f1=round(f1, 4), precision_at_best=round(best_p, 4),
                recall_at_best=round(best_r, 4),affinity_auc=round(_auc(aff_s, aff_t), 4),
                affinity_precision_at_gamma=round(float(aff_t[above].mean()) if above.any() else 0.0, 4),
                affinity_recall_at_gamma=round(float(above[aff_t].mean()), 4),
                same_label_pair_fraction=round(float(aff_t.mean()), 4),
                foreground_cue_auc=round(_auc(fg_s, fg_t), 4), gamma=gamma, images=len(images))
