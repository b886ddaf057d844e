"""Build the toy teachers (`make toy-teachers`): toy-clip, toy-dino and toy-mit, trained here on toy data.

    python tools/toy_teachers/build_toy_teachers.py [--out data/toy_teachers] [--only toy_clip|toy_dino|toy_mit]
        [--force]

* OUT/toy_clip.pt: an open_clip state dict of the registered 'toy-clip' architecture, trained contrastively on
  captioned toy scenes (with context-only and grey-masked scenes). Configs load it with `model_name='toy-clip',
  pretrained='data/toy_teachers/toy_clip.pt'`, the same path as real CLIP weights.
* OUT/toy_dino.pth: a timm VisionTransformer state dict (DINO_ARCHS['toy-dino']) trained by a dense
  contrastive loss on the last block's keys of unlabelled toy scenes (tools/toy_teachers/toy_dino.py);
  `DINOViTEncoder(arch='toy-dino', checkpoint=...)` loads it through the loader of dino_deitsmall8_pretrain.pth.
* OUT/toy_mit.pth: the toy MiT backbone of the AFA / ECA toy twins after plain CAM training on a toy set of its
  own seed (configs/toy/cam_mit-tiny_1xb32-2k_toy-112x112.py), the toy stand-in for ImageNet-pretrained MiT-B1;
  loaded through the backbone's `init_cfg=dict(type='Pretrained', ...)`.
* OUT/<teacher>_report.json: what each teacher knows, measured on held-out data.
* OUT/stamp.json: one stamp per teacher (its arguments and the code it depends on); a rerun rebuilds only a
  teacher whose stamp changed.
"""
import argparse
import glob
import hashlib
import json
import os
import os.path as osp
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import open_clip  # noqa: E402
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD  # noqa: E402
from toy_corpus import CONTEXT_OF, CONTEXTS, GREY, make_corpus  # noqa: E402

import mmseg_wsss.models.clip  # noqa: E402,F401  (registers the 'toy-clip' architecture with open_clip)
from mmseg_wsss.apis.cli import schedule_options  # noqa: E402
from mmseg_wsss.utils.io import atomic_write_text  # noqa: E402

MEAN = torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)


def to_input(images: np.ndarray, flip=None) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> CLIP-normalised float (N, 3, H, W); ``flip`` (N,) bool flips horizontally."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    if flip is not None:
        x = torch.where(torch.as_tensor(flip)[:, None, None, None], x.flip(-1), x)
    return (x - MEAN) / STD


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return -(target * logits.log_softmax(-1)).sum(-1).mean()


def clip_loss(model, images: torch.Tensor, tokens: torch.Tensor, caption_ids: torch.Tensor) -> torch.Tensor:
    """CLIP's symmetric contrastive loss; pairs with the same caption are all positives (the toy corpus repeats
    captions, and treating a repeated caption as a negative would teach nonsense)."""
    img = F.normalize(model.encode_image(images), dim=-1)
    txt = F.normalize(model.encode_text(tokens), dim=-1)
    logits = model.logit_scale.exp() * img @ txt.t()
    same = (caption_ids[:, None] == caption_ids[None]).float()
    target = same / same.sum(1, keepdim=True)
    return (soft_cross_entropy(logits, target) + soft_cross_entropy(logits.t(), target)) / 2


def train_toy_clip(images, captions, steps: int, batch: int, lr: float, seed: int, log_every: int = 100):
    torch.manual_seed(seed)
    model = open_clip.create_model('toy-clip')
    tokenizer = open_clip.get_tokenizer('toy-clip')
    unique = sorted(set(captions))
    caption_ids = torch.tensor([unique.index(c) for c in captions])
    tokens = tokenizer(unique)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=0.1)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (
        1 + np.cos(np.pi * min(s, steps) / steps)))
    rng = np.random.default_rng(seed)
    model.train()
    t0 = time.time()
    for step in range(steps):
        idx = rng.choice(len(images), size=batch, replace=False)
        x = to_input(images[idx], flip=rng.random(batch) < 0.5)
        ids = caption_ids[idx]
        loss = clip_loss(model, x, tokens[ids], ids)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, np.log(100))
        if log_every and (step % log_every == 0 or step == steps - 1):
            print(f'toy-clip step {step + 1}/{steps} loss {loss.item():.4f} ({time.time() - t0:.0f} s)', flush=True)
    return model.eval()


@torch.no_grad()
def evaluate_toy_clip(model, classes, seed: int, n: int = 400) -> dict:
    """What the teacher knows, on held-out scenes (another seed):
    * zero-shot accuracy: single-object scenes (context drawn as in the WSSS set), "a photo of a {class}." prompts;
    * context-only scenes: cosine similarity to "a photo of {context}." vs "a photo of a {its class}.", and how
      often the context wins;
    * masked probes (what CLIMS's object and background terms ask of CLIP), on the single-object scenes: cosine
      similarity to the class prompt of the whole image, of the object alone (everything else mean grey), of the
      image with the object greyed out and of an all-grey image, and how often the object alone beats the other
      two."""
    tokenizer = open_clip.get_tokenizer('toy-clip')

    def text(prompts):
        return F.normalize(model.encode_text(tokenizer(prompts)), dim=-1)

    size = model.visual.image_size[0] if isinstance(model.visual.image_size, (tuple, list)) else \
        model.visual.image_size
    images, _, meta, _ = make_corpus(n, size, len(classes), seed, context_only=0.3, single_object=1.0,
                                     keep_labels=True)
    img = F.normalize(model.encode_image(to_input(images)), dim=-1)
    cls_text = text([f'a photo of a {c}.' for c in classes])
    single = [i for i, m in enumerate(meta) if len(m['present']) == 1]
    pred = (img[single] @ cls_text.t()).argmax(1)
    truth = torch.tensor([meta[i]['present'][0] for i in single])
    report = dict(zero_shot_accuracy=round(float((pred == truth).float().mean()), 4), zero_shot_images=len(single),
                  chance=round(1 / len(classes), 4), context_only={})
    for ctx in CONTEXTS:
        obj = CONTEXT_OF[ctx]
        idx = [i for i, m in enumerate(meta) if not m['present'] and m['context'] == ctx]
        if not idx or obj not in classes:
            continue
        s_ctx = (img[idx] @ text([f'a photo of {ctx}.'])[0])
        s_obj = (img[idx] @ text([f'a photo of a {obj}.'])[0])
        report['context_only'][ctx] = dict(
            images=len(idx), similarity_to_context=round(float(s_ctx.mean()), 4),
            similarity_to_class=round(float(s_obj.mean()), 4), class_name=obj,
            context_wins=round(float((s_ctx > s_obj).float().mean()), 4))
    report['masked_probes'] = masked_probes(model, images, meta, single, cls_text, img[single])
    return report


@torch.no_grad()
def masked_probes(model, images, meta, single, cls_text, whole_emb) -> dict:
    """Class-prompt similarity of single-object scenes shown whole (``whole_emb``, their embeddings), object only,
    object hidden, and all grey."""
    img = images[single].astype(np.float32)
    obj = np.stack([meta[i]['label'] > 0 for i in single])[..., None]
    grey = np.broadcast_to(GREY.astype(np.float32), img.shape)
    cls = torch.tensor([meta[i]['present'][0] for i in single])
    out = dict(whole=(whole_emb * cls_text[cls]).sum(-1))
    for name, x in (('object_only', np.where(obj, img, grey)),
                    ('object_hidden', np.where(obj, grey, img)), ('all_grey', grey)):
        emb = F.normalize(model.encode_image(to_input(np.round(x).astype(np.uint8))), dim=-1)
        out[name] = (emb * cls_text[cls]).sum(-1)
    report = {f'similarity_{k}': round(float(v.mean()), 4) for k, v in out.items()}
    report['object_only_beats_all_grey'] = round(float((out['object_only'] > out['all_grey']).float().mean()), 4)
    report['object_only_beats_object_hidden'] = round(
        float((out['object_only'] > out['object_hidden']).float().mean()), 4)
    return report


CLIP_ARGS = ('corpus_size', 'num_classes', 'masked', 'steps', 'batch', 'lr', 'seed')
DINO_ARGS = ('dino_corpus_size', 'num_classes', 'dino_steps', 'dino_batch', 'seed')
MIT_ARGS = ('mit_images', 'mit_iters', 'mit_seed')
MIT_CFG = 'configs/toy/cam_mit-tiny_1xb32-2k_toy-112x112.py'
STAMPED = dict(  # what each teacher's stamp hashes, besides its arguments
    toy_clip=('build_toy_teachers.py', 'toy_corpus.py', '../dataset_converters/make_toy_voc.py',
              '../../mmseg_wsss/models/clip/model_configs/toy-clip.json'),
    toy_dino=('toy_dino.py', 'toy_corpus.py', '../dataset_converters/make_toy_voc.py',
              '../../mmseg_wsss/models/dino/vit.py'),
    toy_mit=('build_toy_teachers.py', '../dataset_converters/make_toy_voc.py',
             '../../configs/toy/cam_mit-tiny_1xb32-2k_toy-112x112.py',
             '../../configs/toy/afa_mit-tiny_1xb8-2k_toy-112x112.py'))


def stamp_of(teacher: str, args: dict) -> str:
    here = osp.dirname(osp.abspath(__file__))
    h = hashlib.sha256(json.dumps(args, sort_keys=True, default=str).encode())
    for f in STAMPED[teacher]:
        h.update(open(osp.join(here, f), 'rb').read())
    return h.hexdigest()[:16]


def save(obj, path: str):
    tmp = path + '.part'
    torch.save(obj, tmp)
    os.replace(tmp, path)


def build_toy_clip(args, out: str) -> dict:
    t0 = time.time()
    images, captions, _, classes = make_corpus(args.corpus_size, 64, args.num_classes, args.seed,
                                               masked=args.masked)
    print(f'toy corpus: {len(images)} scenes, {len(set(captions))} distinct captions ({time.time() - t0:.0f} s)')
    model = train_toy_clip(images, captions, args.steps, args.batch, args.lr, args.seed)
    save(model.state_dict(), osp.join(out, 'toy_clip.pt'))
    report = evaluate_toy_clip(model, classes, seed=args.seed + 1)
    report.update(seconds=round(time.time() - t0), corpus_size=len(images), steps=args.steps, classes=classes)
    return report


def build_toy_dino(args, out: str) -> dict:
    from toy_dino import evaluate_toy_dino, train_toy_dino
    from mmseg_wsss.models.dino import build_dino_vit
    t0 = time.time()
    images, _, _, _ = make_corpus(args.dino_corpus_size, 128, args.num_classes, args.seed)
    print(f'toy-dino corpus: {len(images)} unlabelled scenes ({time.time() - t0:.0f} s)')
    vit = train_toy_dino(images, steps=args.dino_steps, batch=args.dino_batch, seed=args.seed)
    path = osp.join(out, 'toy_dino.pth')
    save(vit.state_dict(), path)
    # what the teacher knows, on held-out labelled scenes; the same architecture untrained for reference
    held, _, meta, _ = make_corpus(200, 128, args.num_classes, args.seed + 1, keep_labels=True)
    labels = np.stack([m['label'] for m in meta])
    torch.manual_seed(args.seed)
    report = dict(trained=evaluate_toy_dino(build_dino_vit('toy-dino', path), held, labels),
                  untrained=evaluate_toy_dino(build_dino_vit('toy-dino'), held, labels))
    report.update(seconds=round(time.time() - t0), corpus_size=len(images), steps=args.dino_steps)
    return report


def build_toy_mit(args, out: str) -> dict:
    """toy-mit: the toy MiT's backbone after plain CAM training (average pooling) on a toy set of its own seed,
    the toy stand-in for ImageNet-pretrained MiT-B1 (the AFA / ECA toy twins load it through ``init_cfg``)."""
    import subprocess
    import tempfile
    root = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        data, work = osp.join(tmp, 'toy_voc'), osp.join(tmp, 'work')
        subprocess.run([sys.executable, 'tools/dataset_converters/make_toy_voc.py', '--out', data, '--seed',
                        str(args.mit_seed), '--num-train', str(args.mit_images), '--num-val', '100'], cwd=root,
                       check=True, stdout=subprocess.DEVNULL)
        # schedule_options halves the config's 100 warm-up iterations only for tiny test builds
        opts = schedule_options(osp.join(root, MIT_CFG), args.mit_iters, data)
        subprocess.run([sys.executable, 'tools/train.py', MIT_CFG, '--work-dir', work, '--cfg-options', *opts],
                       cwd=root, check=True, stdout=subprocess.DEVNULL)
        state = torch.load(osp.join(work, f'iter_{args.mit_iters}.pth'), map_location='cpu',
                           weights_only=False)['state_dict']
        val = {}
        for path in glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json')):  # the val pass at the end
            for line in open(path):
                rec = json.loads(line)
                if 'mIoU' in rec:
                    val = rec
    backbone = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
    save(backbone, osp.join(out, 'toy_mit.pth'))
    return dict(seconds=round(time.time() - t0), images=args.mit_images, iters=args.mit_iters, seed=args.mit_seed,
                val_cam_miou=val.get('cam/mIoU'), val_cam_best_bg_thr=val.get('cam/best_bg_thr'))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', default='data/toy_teachers')
    p.add_argument('--only', choices=['toy_clip', 'toy_dino', 'toy_mit'], default=None, help='build one teacher')
    p.add_argument('--corpus-size', type=int, default=6000)
    p.add_argument('--num-classes', type=int, default=5)
    p.add_argument('--masked', type=float, default=0.35,
                   help='fraction of corpus scenes partly painted grey and captioned by what stays visible')
    p.add_argument('--steps', type=int, default=600, help='toy-clip steps')
    p.add_argument('--batch', type=int, default=128, help='toy-clip batch')
    p.add_argument('--lr', type=float, default=5e-4, help='toy-clip learning rate')
    p.add_argument('--dino-corpus-size', type=int, default=3000)
    p.add_argument('--dino-steps', type=int, default=600)
    p.add_argument('--dino-batch', type=int, default=32)
    p.add_argument('--mit-images', type=int, default=2000, help='toy-mit: size of its own toy set')
    p.add_argument('--mit-iters', type=int, default=2000)
    p.add_argument('--mit-seed', type=int, default=1000, help='toy-mit: its toy set seed (no comparison uses it)')
    p.add_argument('--seed', type=int, default=0, help='corpus and training seed (the corpus stream is salted)')
    p.add_argument('--force', action='store_true', help='rebuild even if the stamp matches')
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    stamp_path = osp.join(args.out, 'stamp.json')
    stamps = json.load(open(stamp_path)) if osp.isfile(stamp_path) else {}
    stamps = {k: v for k, v in stamps.items() if k in STAMPED}  # drops the single-teacher stamp of older builds
    for teacher, keys, build in (('toy_clip', CLIP_ARGS, build_toy_clip), ('toy_dino', DINO_ARGS, build_toy_dino),
                                 ('toy_mit', MIT_ARGS, build_toy_mit)):
        if args.only and teacher != args.only:
            continue
        targs = {k: getattr(args, k) for k in keys}
        stamp = stamp_of(teacher, targs)
        if not args.force and stamps.get(teacher, {}).get('stamp') == stamp:
            print(f'{teacher} in {args.out} is up to date (stamp {stamp})')
            continue
        report = build(args, args.out)
        atomic_write_text(osp.join(args.out, f'{teacher}_report.json'), json.dumps(report, indent=1))
        stamps[teacher] = dict(stamp=stamp, args=targs)
        atomic_write_text(stamp_path, json.dumps(stamps, indent=1))  # after the weights and report: marks done
        print(json.dumps(report, indent=1))


if __name__ == '__main__':
    main()
