"""Speed and memory of a config's model: training step and inference on random inputs; or PAR alone.

    python tools/analysis_tools/benchmark.py CONFIG [--batch 2 --size 512 --iters 10 --warmup 2 --device cpu]
        [--at-iter N] [--from-config] [--random-weights] [--amp] [--tta] [--oneline]
    python tools/analysis_tools/benchmark.py --par [--batch 4 --size 256 --classes 21 --device cpu]

Prints seconds per training step (forward + backward + SGD step) and per inference batch, and peak memory
(CUDA: max allocated; CPU: peak resident set size of the process), and how many times each of the model's
encoders (frozen teachers, prompt-learning text towers: ``model.encoders``) ran per step and per batch (calls of
the encoder; a text tower with fixed prompts answers from embeddings computed once when it was built).
``--at-iter`` times the training step as at that iteration (terms with a later ``start_iter`` are off before it:
ECA's CARM, correspondence and affinity terms start at 2k). ``--par`` times PAR (AFA's refinement, the hot spot
of AFA / ECA pseudo labels) as implemented (``par_refine``) against the straightforward per-dilation loop
(``par_refine_loop``) on the same inputs (AFA's defaults: dilations 1-24, 10 iterations; its pseudo labels run it
at half the crop) and their largest difference. Numbers, not assertions: run it on the machine you care about.

``--from-config``: the config's own per-GPU batch and crop, as at its last iteration (every term on) unless
``--at-iter`` is given. ``--random-weights``: the same architectures without fetching CLIP / DINO weights.
``--amp``: the step under autocast (CUDA: float16 with a gradient scaler, as mmengine's AmpOptimWrapper; CPU:
bfloat16). ``--tta``: also one test-time-augmented inference of one image of the crop's size through the config's
``tta_pipeline`` and ``tta_model`` (the path of ``tools/test.py --tta``), timed after one warm-up run. ``--oneline``: one line
(``tools/analysis_tools/gpu_check.sh`` prints one per config).
"""
import argparse
import contextlib
import copy
import os.path as osp
import resource
import tempfile
import time

import torch
from mmengine.config import DictAction
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmseg_wsss.models.segmentors.wsss_segmentor import is_loss_key
import mmseg_wsss  # noqa: F401
from mmseg_wsss.apis import load_config, without_pretrained_weights


def fake_batch(num_classes, batch, size, device):
    inputs = torch.rand(batch, 3, size, size, device=device)
    samples = []
    g = torch.Generator().manual_seed(0)
    for _ in range(batch):
        labels = sorted(set(torch.randint(1, num_classes, (2, ), generator=g).tolist()))
        s = SegDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size), pad_shape=(size, size),
                                        padding_size=[0, 0, 0, 0], img_labels=labels))
        s.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, size, size), generator=g).to(device))
        samples.append(s)
    return inputs, samples


def encoder_runs(model) -> dict:
    """A dict that counts, from now on, the runs of each of ``model.encoders`` (name -> runs): outermost calls of
    its ``forward``, ``encode`` or ``encode_batch`` (a call made inside another is the same run)."""
    runs = {}
    for name, enc in getattr(model, 'encoders', {}).items():
        depth = [0]
        for attr in ('forward', 'encode', 'encode_batch'):
            fn = getattr(enc, attr, None)
            if fn is None:
                continue

            def counted(*a, _fn=fn, _name=name, _depth=depth, **k):
                runs[_name] = runs.get(_name, 0) + (_depth[0] == 0)
                _depth[0] += 1
                try:
                    return _fn(*a, **k)
                finally:
                    _depth[0] -= 1
            setattr(enc, attr, counted)
    return runs


def timed(fn, iters, warmup, device):
    for _ in range(warmup):
        fn()
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(iters):
        fn()
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / iters


def bench_par(args):
    import os.path as osp
    import sys
    sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))  # the tests' reference form
    from mmseg_wsss.models.refiners import par_refine
    from tests.test_models.par_reference import par_refine_loop
    g = torch.Generator().manual_seed(0)
    images = torch.rand(args.batch, 3, args.size, args.size, generator=g).to(args.device)
    masks = torch.rand(args.batch, args.classes, args.size, args.size, generator=g).to(args.device)
    with torch.no_grad():
        diff = (par_refine(images, masks) - par_refine_loop(images, masks)).abs().max().item()
        t_fast = timed(lambda: par_refine(images, masks), args.iters, args.warmup, args.device)
        t_loop = timed(lambda: par_refine_loop(images, masks), args.iters, args.warmup, args.device)
    print(f'PAR         device {args.device}, {args.batch} x {args.classes} channels x {args.size}x{args.size}, '
          'dilations (1, 2, 4, 8, 12, 24), 10 iterations')
    print(f'par_refine       {t_fast:.4f} s')
    print(f'par_refine_loop  {t_loop:.4f} s  ({t_loop / t_fast:.1f}x the time)')
    print(f'max |difference| {diff:.2e}')


def config_batch_and_crop(cfg) -> tuple:
    """The per-GPU batch and the (square side of the) training crop a config trains with."""
    crop = cfg.get('crop_size')
    if crop is None:
        crop = next((t['crop_size'] for t in cfg.train_dataloader.dataset.get('pipeline', [])
                     if t.get('type') == 'RandomCrop'), (512, 512))
    crop = crop if isinstance(crop, int) else max(crop)
    return cfg.train_dataloader.batch_size, crop


def tta_inference(model, cfg, size: int, device: str) -> float:
    """Seconds for one test-time-augmented prediction of a random ``size`` x ``size`` image through
    ``cfg.tta_pipeline`` (without its annotation branch) and ``cfg.tta_model`` wrapping ``model``."""
    import numpy as np
    from mmcv import imwrite
    from mmengine.dataset import Compose, pseudo_collate
    from mmseg_wsss.apis.cli import without_annotations
    pipeline = without_annotations(copy.deepcopy(cfg.tta_pipeline))
    tta = MODELS.build(dict(copy.deepcopy(cfg.tta_model), module=model))
    model.eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'image.jpg')
        imwrite(np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8), path)
        data = pseudo_collate([Compose(pipeline)(dict(img_path=path, img_id='image', img_labels=[1],
                                                     seg_fields=[], reduce_zero_label=False))])
        with torch.no_grad():
            return timed(lambda: tta.test_step(data), 1, 1, device)  # one warm-up run first


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', nargs='?')
    p.add_argument('--par', action='store_true', help='time PAR alone (no config)')
    p.add_argument('--classes', type=int, default=21, help='--par: mask channels')
    p.add_argument('--at-iter', type=int, default=None,
                   help='time the training step as at this iteration (default 0; --from-config: the last)')
    p.add_argument('--batch', type=int, default=2)
    p.add_argument('--size', type=int, default=512)
    p.add_argument('--iters', type=int, default=10)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--from-config', action='store_true',
                   help="the config's per-GPU batch and crop, as at its last iteration (unless --at-iter)")
    p.add_argument('--random-weights', action='store_true', help='do not fetch CLIP / DINO weights')
    p.add_argument('--amp', action='store_true', help='autocast (CUDA float16 + grad scaler; CPU bfloat16)')
    p.add_argument('--tta', action='store_true', help="also time one inference through the config's TTA")
    p.add_argument('--oneline', action='store_true', help='print one line')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = p.parse_args(argv)
    if args.par:
        return bench_par(args)
    if args.config is None:
        p.error('a CONFIG, or --par')
    from mmengine.logging import MessageHub

    cfg = load_config(args.config, args.cfg_options)
    if args.from_config:
        args.batch, args.size = config_batch_and_crop(cfg)
    if args.at_iter is None:
        args.at_iter = cfg.train_cfg.max_iters - 1 if args.from_config else 0
    MessageHub.get_current_instance().update_info('iter', args.at_iter)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model_cfg = copy.deepcopy(cfg.model)
    if args.random_weights:
        without_pretrained_weights(model_cfg)
    model = revert_sync_batchnorm(MODELS.build(model_cfg)).to(args.device)
    inputs, samples = fake_batch(model.num_classes, args.batch, args.size, args.device)
    opt = torch.optim.SGD([q for q in model.parameters() if q.requires_grad], lr=1e-4)
    if args.device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()

    cuda = args.device.startswith('cuda')
    scaler = None
    if args.amp and cuda:  # torch.amp.GradScaler from torch 2.3; torch.cuda.amp's before (the README allows 2.1)
        scaler = torch.amp.GradScaler('cuda') if hasattr(torch.amp, 'GradScaler') else torch.cuda.amp.GradScaler()
    amp_dtype = torch.float16 if cuda else torch.bfloat16

    def autocast():
        if not args.amp:
            return contextlib.nullcontext()
        return torch.autocast('cuda' if cuda else 'cpu', dtype=amp_dtype)

    losses_seen = []

    def train_step():
        model.train()
        with autocast():
            losses = model.loss(inputs, copy.deepcopy(samples))
        loss = sum(v for k, v in losses.items() if is_loss_key(k))
        losses_seen.append(float(loss.detach()))
        opt.zero_grad()
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()

    @torch.no_grad()
    def infer():
        model.eval()
        with autocast():
            model.predict(inputs, copy.deepcopy(samples))

    runs = encoder_runs(model)
    t_train = timed(train_step, args.iters, args.warmup, args.device)
    train_runs = dict(runs)
    runs.clear()
    t_infer = timed(infer, args.iters, args.warmup, args.device)
    runs = dict(runs)  # the counts of the plain inference, before the TTA views add theirs
    t_tta = tta_inference(model, cfg, args.size, args.device) if args.tta else None
    finite = all(torch.isfinite(torch.tensor(losses_seen)).tolist())
    if args.device.startswith('cuda'):
        mem = f'{torch.cuda.max_memory_allocated() / 2**20:.0f} MiB (CUDA max allocated)'
    else:
        mem = f'{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB (process peak RSS)'
    n_params = sum(q.numel() for q in model.parameters())
    n_train = sum(q.numel() for q in model.parameters() if q.requires_grad)
    n = args.iters + args.warmup
    runs_txt = ', '.join(f'{k} {train_runs.get(k, 0) / n:.2f}/step {runs.get(k, 0) / n:.2f}/batch'
                         for k in getattr(model, 'encoders', {}))
    if args.oneline:
        amp = f"amp {'fp16' if cuda else 'bf16'}" if args.amp else 'amp off'
        tta = f', tta {t_tta:.3f} s' if t_tta is not None else ''
        print(f'{osp.basename(args.config)}: {args.device}, {amp}, batch {args.batch} x {args.size}, iter '
              f'{args.at_iter}: train {t_train:.3f} s/iter, infer {t_infer:.3f} s/batch{tta}, peak {mem}, '
              f"losses {'finite' if finite else 'NOT FINITE'}, encoder runs: {runs_txt or 'none'}")
        return
    print(f'config      {args.config}')
    print(f'device      {args.device}, batch {args.batch} x {args.size}x{args.size}, as at iteration {args.at_iter}')
    print(f'parameters  {n_params / 1e6:.2f} M ({n_train / 1e6:.2f} M trainable)')
    print(f'train step  {t_train:.4f} s/iter ({args.batch / t_train:.1f} img/s)')
    print(f'inference   {t_infer:.4f} s/batch ({args.batch / t_infer:.1f} img/s)')
    if t_tta is not None:
        from mmseg_wsss.apis.protocol import tta_views
        views = tta_views(cfg.tta_pipeline)
        print(f"tta         {t_tta:.4f} s for one image ({len(views['scales'])} scales"
              f"{' x flip' if views['flip'] else ''})")
    print(f'peak memory {mem}')
    print(f"losses      {'finite' if finite else 'NOT FINITE'}{' (autocast)' if args.amp else ''}")
    if runs_txt:
        print('encoder runs ' + runs_txt)


if __name__ == '__main__':
    main()
