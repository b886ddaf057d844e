"""toy-clip-dense: toy-clip's recipe plus a dense patch-text term, a toy CLIP whose patch tokens localise.

    python tools/toy_teachers/build_toy_clip_dense.py [--out data/toy_teachers] [--dense-weight 1.0] [--force]

Why it exists: DALNet (configs/dalnet) reads its object-aware mask and its CAMs from the patch-text similarity
of the CLIP tower it fine-tunes, so it needs patch tokens that already point at the objects a little. toy-clip
(build_toy_teachers.py) is trained on image-caption pairs only, and its patch tokens start anti-localised: the
patch-text cosine ranks a class's own patches below the rest (ROC AUC 0.458 at the final block, measured in the
DALNet study, README). Real CLIP's patch tokens at intermediate blocks carry some localisation (what DALNet's
block-10 mask relies on); this teacher is the toy stand-in for that property, so that DALNet's claims can be
tested from a start that has it. It is NOT a CLIP trained like real CLIP: its patch tokens saw dense
supervision (on its own corpus, never on a WSSS toy set), so a method on it is compared with its own start.

Recipe: toy-clip's corpus, architecture, optimiser and steps (the same functions), plus, on the corpus scenes that
are not masked, the cross-entropy of each patch's projected token against the texts "a photo of nothing." and
"a photo of a {class}." (CLIP's logit scale), the target being the class covering at least ``--min-fraction`` of
the patch, "nothing" for a patch without any object pixel (background and context: water, rails, grass), and
no target for mixed patches; weighted ``--dense-weight``. Writes OUT/toy_clip_dense.pt (the toy-clip
architecture: configs load it with ``model_name='toy-clip', pretrained=<path>``), OUT/toy_clip_dense_report.json
(zero-shot accuracy as toy-clip's report, and the patch-text ROC AUC of this teacher and, when OUT/toy_clip.pt
exists, of toy-clip, at the final block and at block 1, the one the toy DALNet's mask reads) and its own stamp
OUT/toy_clip_dense_stamp.json (toy-clip's stamp is untouched).
"""
import argparse
import hashlib
import json
import os
import os.path as osp
import sys
import time

import numpy as np
import open_clip
import torch
import torch.nn.functional as F

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, osp.join(HERE, '..', '..'))
from build_toy_teachers import clip_loss, evaluate_toy_clip, save, to_input  # noqa: E402
from toy_corpus import EMPTY_CAPTION, make_corpus  # noqa: E402

from mmseg_wsss.utils.io import atomic_write_text  # noqa: E402

IGNORE = -100
STAMPED = ('build_toy_clip_dense.py', 'build_toy_teachers.py', 'toy_corpus.py',
           '../dataset_converters/make_toy_voc.py', '../../mmseg_wsss/models/clip/model_configs/toy-clip.json')
ARGS = ('corpus_size', 'num_classes', 'masked', 'steps', 'batch', 'lr', 'seed', 'dense_weight', 'min_fraction')


def patch_targets(labels: np.ndarray, patch: int, num_classes: int, min_fraction: float = 0.5) -> torch.Tensor:
    """(N, H, W) label maps (0 = no object, class index + 1) -> (N, H/patch * W/patch) patch targets: c + 1 where
    class c covers at least ``min_fraction`` of the patch, 0 where the patch has no object pixel, IGNORE
    otherwise (mixed patches)."""
    lab = torch.as_tensor(np.ascontiguousarray(labels)).long()
    N, H, W = lab.shape
    h, w = H // patch, W // patch
    cells = lab[:, :h * patch, :w * patch].reshape(N, h, patch, w, patch).permute(0, 1, 3, 2, 4).reshape(N, h * w, -1)
    counts = F.one_hot(cells, num_classes + 1).sum(2)  # (N, h*w, 1 + K)
    best = counts[..., 1:].max(-1)
    target = torch.full((N, h * w), IGNORE, dtype=torch.long)
    target[counts[..., 1:].sum(-1) == 0] = 0
    covered = best.values >= min_fraction * cells.shape[-1]
    target[covered] = best.indices[covered] + 1
    return target


def dense_patch_text_loss(model, images: torch.Tensor, targets: torch.Tensor, text_tokens: torch.Tensor):
    """Cross-entropy of each patch's projected token (final LayerNorm + projection, as CLIP's class token) against
    the texts (index 0 "nothing", c + 1 the class c), at CLIP's logit scale; IGNORE targets give no loss. Also
    returns the image embeddings, so the contrastive loss can reuse the same forward."""
    model.visual.output_tokens = True
    try:
        pooled, tokens = model.visual(images)
    finally:
        model.visual.output_tokens = False
    patches = F.normalize(tokens @ model.visual.proj, dim=-1)  # (N, h*w, D)
    text = F.normalize(model.encode_text(text_tokens), dim=-1)  # (1 + K, D)
    logits = model.logit_scale.exp() * patches @ text.t()
    if (targets != IGNORE).any():
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE)
    else:
        loss = logits.sum() * 0
    return loss, pooled


def train_toy_clip_dense(images, captions, meta, classes, steps: int, batch: int, lr: float, seed: int,
                         dense_weight: float, min_fraction: float, log_every: int = 100):
    """toy-clip's training (build_toy_teachers.train_toy_clip: optimiser, schedule, flips, logit-scale clamp) with
    the dense term added on the unmasked scenes of each batch."""
    torch.manual_seed(seed)
    model = open_clip.create_model('toy-clip')
    tokenizer = open_clip.get_tokenizer('toy-clip')
    unique = sorted(set(captions))
    caption_ids = torch.tensor([unique.index(c) for c in captions])
    tokens = tokenizer(unique)
    dense_text = tokenizer([EMPTY_CAPTION] + [f'a photo of a {c}.' for c in classes])
    patch = model.visual.patch_size[0] if isinstance(model.visual.patch_size, tuple) else model.visual.patch_size
    targets = patch_targets(np.stack([m['label'] for m in meta]), patch, len(classes), min_fraction)
    grid = images.shape[1] // patch
    targets[torch.tensor([m['masked'] for m in meta])] = IGNORE  # greyed regions keep their labels: no target
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=0.1)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (
        1 + np.cos(np.pi * min(s, steps) / steps)))
    rng = np.random.default_rng(seed)
    model.train()
    t0 = time.time()
    for step in range(steps):
        idx = rng.choice(len(images), size=batch, replace=False)
        flip = rng.random(batch) < 0.5
        x = to_input(images[idx], flip=flip)
        t = targets[idx].view(batch, grid, grid)
        t = torch.where(torch.as_tensor(flip)[:, None, None], t.flip(-1), t).flatten(1)
        ids = caption_ids[idx]
        dense, _ = dense_patch_text_loss(model, x, t, dense_text)
        loss = clip_loss(model, x, tokens[ids], ids) + dense_weight * dense
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, np.log(100))
        if log_every and (step % log_every == 0 or step == steps - 1):
            print(f'toy-clip-dense step {step + 1}/{steps} loss {loss.item():.4f} (dense {dense.item():.4f}, '
                  f'{time.time() - t0:.0f} s)', flush=True)
    return model.eval()


def rank_auc(scores: torch.Tensor, positive: torch.Tensor) -> float:
    """ROC AUC of ``scores`` for the boolean ``positive`` (ties count one half), or nan without both kinds."""
    pos, neg = scores[positive], scores[~positive]
    if not len(pos) or not len(neg):
        return float('nan')
    diff = pos[:, None] - neg[None]
    return float(((diff > 0).float() + 0.5 * (diff == 0).float()).mean())


@torch.no_grad()
def patch_text_auc(checkpoint: str, classes, seed: int, n: int = 150, size: int = 112, block: int = 1,
                   min_fraction: float = 0.5) -> dict:
    """Does the patch-text cosine point at the objects? On ``n`` held-out scenes at the toy set's input size
    (112: a 14 x 14 grid, as the toy DALNet sees it), for every (image, present class): the ROC AUC of the
    cosine between each patch's projected token and "a photo of a {class}." for telling the class's own patches
    (``patch_targets``) from every other patch; mean over the pairs, at the final block and at ``block``."""
    from mmseg_wsss.models.clip import OpenCLIPImageEncoder, build_open_clip
    enc = OpenCLIPImageEncoder(model_name='toy-clip', pretrained=checkpoint, quick_gelu=None,
                               token_blocks=(block, )).eval()
    clip = build_open_clip('toy-clip', checkpoint, quick_gelu=None).eval()
    text = F.normalize(clip.encode_text(open_clip.get_tokenizer('toy-clip')(
        [f'a photo of a {c}.' for c in classes])), dim=-1)
    images, _, meta, _ = make_corpus(n, size, len(classes), seed, context_only=0.0, keep_labels=True)
    out = enc.forward_tokens(to_input(images))
    targets = patch_targets(np.stack([m['label'] for m in meta]), size // out['grid'][0], len(classes),
                            min_fraction)
    report = {}
    for name, patches in (('final', out['patches']), (f'block_{block}', out['tokens'][block]['patches_proj'])):
        sim = F.normalize(patches, dim=-1) @ text.t()  # (n, h*w, K)
        aucs = [rank_auc(sim[i, :, c], targets[i] == c + 1) for i, m in enumerate(meta) for c in m['present']
                if (targets[i] == c + 1).any()]
        report[name] = round(float(np.nanmean(aucs)), 4)
    report['pairs'] = len(aucs)
    return report


def stamp_of(args: dict) -> str:
    h = hashlib.sha256(json.dumps(args, sort_keys=True, default=str).encode())
    for f in STAMPED:
        h.update(open(osp.join(HERE, f), 'rb').read())
    return h.hexdigest()[:16]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', default='data/toy_teachers')
    p.add_argument('--corpus-size', type=int, default=6000, help="as toy-clip's")
    p.add_argument('--num-classes', type=int, default=5)
    p.add_argument('--masked', type=float, default=0.35)
    p.add_argument('--steps', type=int, default=600)
    p.add_argument('--batch', type=int, default=128)
    p.add_argument('--lr', type=float, default=5e-4)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--dense-weight', type=float, default=1.0, help='weight of the dense patch-text term')
    p.add_argument('--min-fraction', type=float, default=0.5,
                   help="a patch's target is the class covering at least this fraction of it")
    p.add_argument('--eval-images', type=int, default=150)
    p.add_argument('--force', action='store_true', help='rebuild even if the stamp matches')
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    targs = {k: getattr(args, k) for k in ARGS}
    stamp, stamp_path = stamp_of(targs), osp.join(args.out, 'toy_clip_dense_stamp.json')
    if not args.force and osp.isfile(stamp_path) and json.load(open(stamp_path)).get('stamp') == stamp:
        print(f'toy_clip_dense in {args.out} is up to date (stamp {stamp})')
        return
    t0 = time.time()
    images, captions, meta, classes = make_corpus(args.corpus_size, 64, args.num_classes, args.seed,
                                                  masked=args.masked, keep_labels=True)
    print(f'toy corpus: {len(images)} scenes, {len(set(captions))} distinct captions ({time.time() - t0:.0f} s)')
    model = train_toy_clip_dense(images, captions, meta, classes, args.steps, args.batch, args.lr, args.seed,
                                 args.dense_weight, args.min_fraction)
    path = osp.join(args.out, 'toy_clip_dense.pt')
    save(model.state_dict(), path)
    report = evaluate_toy_clip(model, classes, seed=args.seed + 1)
    report['patch_text_auc'] = dict(toy_clip_dense=patch_text_auc(path, classes, args.seed + 2, args.eval_images))
    plain = osp.join(args.out, 'toy_clip.pt')
    if osp.isfile(plain):
        report['patch_text_auc']['toy_clip'] = patch_text_auc(plain, classes, args.seed + 2, args.eval_images)
    report.update(seconds=round(time.time() - t0), corpus_size=len(images), steps=args.steps, classes=classes,
                  dense_weight=args.dense_weight)
    atomic_write_text(osp.join(args.out, 'toy_clip_dense_report.json'), json.dumps(report, indent=1))
    atomic_write_text(stamp_path, json.dumps(dict(stamp=stamp, args=targs), indent=1))  # last: marks done
    print(json.dumps(report, indent=1))


if __name__ == '__main__':
    main()
