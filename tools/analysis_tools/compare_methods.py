"""Compare WSSS methods on a generated toy set: same start, same iterations, one table and one chart.

    python tools/analysis_tools/compare_methods.py [CONFIG ...] [--seeds 0 1 2] [--iters 1000]
        [--init-iters 1000] [--retrain-iters 1000] [--no-retrain] [--refine-seeds CAM 'CLIMS (toy-clip)']
        [--variant NAME CONFIG [KEY=VALUE ...]] [--out work_dirs/compare_methods]
    python tools/analysis_tools/compare_methods.py --merge RUN [RUN ...] --out OUT

CONFIG defaults to every toy config of a method: the files in configs/toy/ that declare ``toy_compare =
dict(name=..., init=...)``. For each seed:

1. a toy set is generated with that seed (``make_toy_voc.py --seed``; with its ContextMask);
2. the shared start: the plain CAM network (configs/toy/cam_*) trained for --init-iters;
3. every row trains --iters more. Rows with ``init='cam'`` start from the shared start (CLIMS starts from a CAM
   network, as in the paper); rows with ``init=None`` (a different architecture) start from their own config's
   initialisation and train --init-iters + --iters, the same total. The plain CAM row is always there;
4. each row is measured on the train split: CAM mIoU at its best background threshold (tools/test.py +
   CAMMetric); at that threshold, without CRF, the fraction of co-occurring context pixels (water / rails / grass
   not under an object) called foreground and the fraction of object pixels labelled with their own class; and
   the mIoU of its dense-CRF pseudo labels (tools/make_pseudo_labels.py --crf, 255 counted as background);
5. rows whose model has a decoder (single-stage methods: AFA, ECA) are tested on val through it (decoder mIoU);
   their online pseudo labels' quality at the end of training (the PseudoLabelQualityHook's last
   ``pseudo_label/<source>/mIoU`` on 64 train images, for the sources 'cam' and 'carm') is read from the log;
6. unless --no-retrain, a DeepLabV3+ is retrained on the CRF pseudo labels of each row without a decoder (the
   toy retraining config) and tested on val;
7. the all-background rows (train and val) and the centre prior (a centred Gaussian as the CAM of each labelled
   class at its best threshold: what knowing the labels and the middle of the image gives) are always present;
8. rows that refine another row's seeds (``toy_compare = dict(name=..., seeds='CAM')``: WeakCLIP) run after that
   row and train --iters on its CRF pseudo labels (``pseudo_label_dir``) from their own initialisation; their
   decoder is tested on val, and their pseudo masks on train (decoder predictions, classes outside the image
   label -> 255, dense CRF) fill the CRF pseudo-label column, to read against the seeds' row (and, unless
   --no-retrain, are retrained on like the others). ``--refine-seeds A B`` makes one such row per named seed
   source instead of the config's (``WeakCLIP (toy-clip) on CLIMS (toy-clip) seeds``);
9. ``--variant NAME CONFIG KEY=VALUE ...`` (repeatable) adds a row named NAME: CONFIG with those --cfg-options on
   every command that builds it (training, test, pseudo labels), after the schedule's own options (so a variant
   may also set the schedule, e.g. ``param_scheduler.1.end=2000`` to probe the first iterations of a longer run).
   A sweep of one hyperparameter is one run with a variant per value: the rows share the seed's toy set and CAM
   rows, and read side by side. With variants and no CONFIG, the rows are the CAM rows and the variants.

``--merge RUN ...`` trains nothing: it joins the results.json of earlier runs (seeds or rows run in different
sessions) into one table and chart; a cell is the mean ± std over the seeds that have it.

Writes OUT/results.json (every number of every seed), OUT/results.md (the markdown table; mean +- std over seeds
when there are several) and OUT/results.png (bar chart), all three after every seed. The README's results table
is this script's output.
"""
import argparse
import glob
import json
import os
import os.path as osp
import shutil
import sys
import textwrap
import time

import numpy as np

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
sys.path.insert(0, ROOT)
from mmseg_wsss.apis.cli import read_logged_metrics, run_script, schedule_options  # noqa: E402
from mmseg_wsss.utils.io import atomic_write_text, read_label_png  # noqa: E402

CAM_CFG = 'configs/toy/cam_r18-tiny-d8_1xb8-2k_toy-112x112.py'
SEG_CFG = 'configs/toy/deeplabv3plus_r18-tiny-d8_1xb8-1k_toy-pseudo-112x112.py'
COLUMNS = [  # (key, header, on the chart)
    ('cam_miou', 'CAM mIoU (train)', True),
    ('bg_thr', 'bg thr', False),
    ('context_as_foreground', 'context as fg', False),
    ('object_recall', 'object recall', False),
    ('pseudo_miou', 'CRF pseudo-label mIoU (train)', True),
    ('retrain_miou', 'retrained mIoU (val)', True),
    ('decoder_miou', 'decoder mIoU (val)', True),
    ('online_cam_label_miou', 'online CAM label mIoU', False),
    ('online_carm_label_miou', 'online CARM label mIoU', False),
]
ONLINE_SOURCES = dict(cam='online_cam_label_miou', carm='online_carm_label_miou')


def run(*cmd, capture: bool = False, log=None) -> str:
    """Run a repository script with this interpreter; its output goes to ``log`` (or is returned)."""
    return run_script(ROOT, *cmd, capture=capture, log=log)


def method_configs() -> list:
    """configs/toy/*.py that declare ``toy_compare``, sorted by file name."""
    from mmengine.config import Config
    found = []
    for path in sorted(glob.glob(osp.join(ROOT, 'configs', 'toy', '*.py'))):
        if Config.fromfile(path).get('toy_compare'):
            found.append(osp.relpath(path, ROOT))
    return found


def row_spec(cfg: str) -> dict:
    from mmengine.config import Config
    c = Config.fromfile(osp.join(ROOT, cfg))
    spec = dict(c.get('toy_compare', {}))
    name = spec.get('name', osp.splitext(osp.basename(cfg))[0])
    return dict(name=name, config=cfg, init=spec.get('init', 'cam'), seeds=spec.get('seeds'), options=[])


def variant_spec(words: list) -> dict:
    """A row from ``--variant NAME CONFIG [KEY=VALUE ...]``: the config's row with that name and those options."""
    if len(words) < 2 or any('=' not in w for w in words[2:]):
        raise ValueError(f'--variant takes NAME CONFIG [KEY=VALUE ...], got {words}')
    name, cfg, options = words[0], words[1], list(words[2:])
    return dict(row_spec(cfg), name=name, options=options)


def order_rows(rows: list, refine_seeds=None) -> list:
    """Rows that refine another row's seeds (``seeds=<row name>``) after the others; with ``refine_seeds`` (row
    names), one refiner row per name instead of the config's. A name that is not a method row is an error."""
    if refine_seeds:
        rows = [r for r in rows if r.get('seeds') is None] + [
            dict(r, seeds=src) for r in rows if r.get('seeds') is not None for src in refine_seeds]
    names = [r['name'] for r in rows if r.get('seeds') is None]
    for r in rows:
        if r.get('seeds') is not None and r['seeds'] not in names:
            raise ValueError(f'row {r["name"]!r} refines the seeds of {r["seeds"]!r}, which is not among the rows '
                             f'{names}: add its config')
    return [r for r in rows if r.get('seeds') is None] + [r for r in rows if r.get('seeds') is not None]


def schedule(cfg: str, iters: int, data: str) -> list:
    """--cfg-options that make ``cfg`` (relative to the repository) train ``iters`` iterations on ``data``."""
    return schedule_options(osp.join(ROOT, cfg), iters, data)


def train(cfg: str, work: str, iters: int, data: str, log, *extra: str) -> str:
    opts = schedule(cfg, iters, data) + list(extra)
    run('tools/train.py', cfg, '--work-dir', work, '--cfg-options', *opts, log=log)
    return osp.join(work, f'iter_{iters}.pth')


def cam_miou(cfg: str, ckpt: str, work: str, data: str, log, options=()) -> dict:
    run('tools/test.py', cfg, ckpt, '--work-dir', work, '--cfg-options', f'data_root={data}', *options, log=log)
    m = read_logged_metrics(osp.join(ROOT, work))
    return dict(cam_miou=round(float(m['cam/mIoU']), 2), bg_thr=float(m['cam/best_bg_thr']))


def context_and_object(label_dir: str, data: str) -> dict:
    """Of a folder of label PNGs on the train split: the fraction of co-occurring context pixels (the generator's
    ContextMask: water / rails / grass not under an object) called foreground, and the fraction of object pixels
    labelled with their own class."""
    ctx_fg = ctx_all = obj_hit = obj_all = 0
    for path in sorted(glob.glob(osp.join(label_dir, '*.png'))):
        name = osp.basename(path)
        ctx_path = osp.join(data, 'ContextMask', name)
        if not osp.isfile(ctx_path):
            raise FileNotFoundError(f'{ctx_path} missing: regenerate the toy set (make_toy_voc.py writes '
                                    'ContextMask/)')
        pred = read_label_png(path)
        ctx = read_label_png(ctx_path).astype(bool)
        gt = read_label_png(osp.join(data, 'SegmentationClass', name))
        ctx_fg += int(((pred > 0) & (pred < 255) & ctx).sum())
        ctx_all += int(ctx.sum())
        obj = (gt > 0) & (gt < 255)
        obj_hit += int((pred[obj] == gt[obj]).sum())
        obj_all += int(obj.sum())
    return dict(context_as_foreground=round(ctx_fg / max(ctx_all, 1), 4),
                object_recall=round(obj_hit / max(obj_all, 1), 4))


def pseudo_miou(cfg: str, data: str, *args: str, options=()) -> float:
    """mIoU from tools/analysis_tools/eval_pseudo_labels.py on ``data`` (``args``: a label folder, or
    ``--all-background --split S``)."""
    out = run('tools/analysis_tools/eval_pseudo_labels.py', cfg, *args, '--cfg-options', f'data_root={data}',
              *options, capture=True)
    return round(float(json.loads(out.strip().splitlines()[-1])['mIoU']), 2)


def centre_prior(data: str) -> dict:
    """The honest baseline of the CAM column: a centred Gaussian as the CAM of each labelled class, scored like
    CAMs (eval_pseudo_labels.py --centre-prior, train split)."""
    out = json.loads(run('tools/analysis_tools/eval_pseudo_labels.py', CAM_CFG, '--centre-prior', '--cfg-options',
                         f'data_root={data}', capture=True).strip().splitlines()[-1])
    return dict(cam_miou=round(float(out['mIoU']), 2), bg_thr=float(out['best_bg_thr']))


def has_decoder(cfg: str) -> bool:
    from mmengine.config import Config
    return Config.fromfile(osp.join(ROOT, cfg)).model.get('decode_head') is not None


def online_label_quality(work: str) -> dict:
    """The last logged ``pseudo_label/<source>/mIoU`` of a training run (PseudoLabelQualityHook)."""
    found = {}
    for path in sorted(glob.glob(osp.join(ROOT, work, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                for src, key in ONLINE_SOURCES.items():
                    if f'pseudo_label/{src}/mIoU' in rec:
                        found[key] = round(float(rec[f'pseudo_label/{src}/mIoU']), 2)
    return found


def measure(cfg: str, ckpt: str, work: str, data: str, args, log, pseudo: bool = True, options=()) -> dict:
    """Every column for one trained row (``options``: a variant's --cfg-options, on every command)."""
    res = cam_miou(cfg, ckpt, f'{work}/test_cam', data, log, options)
    decoder = has_decoder(cfg)
    if decoder:
        res['decoder_miou'] = decoder_val_miou(cfg, ckpt, work, data, log, options)
        res.update(online_label_quality(work))
    thr = f'model.test_cfg.bg_thr={res["bg_thr"]}'
    run('tools/make_pseudo_labels.py', cfg, ckpt, '--out-dir', f'{work}/cam_labels', '--source', 'cam',
        '--cfg-options', f'data_root={data}', *options, thr, log=log)
    res.update(context_and_object(f'{work}/cam_labels', data))
    if not pseudo:
        return res
    labels = crf_label_dir(work)
    run('tools/make_pseudo_labels.py', cfg, ckpt, '--out-dir', labels, '--source', 'cam', '--crf',
        '--workers', str(args.workers), '--cfg-options', f'data_root={data}', *options, thr, log=log)
    res['pseudo_miou'] = pseudo_miou(cfg, data, labels, options=options)
    if args.retrain and not decoder:
        res['retrain_miou'] = retrain_miou(labels, work, data, args, log)
    return res


def crf_label_dir(work: str) -> str:
    """Where a row's dense-CRF pseudo labels go (a refiner row reads its seeds there)."""
    return f'{work}/pseudo_labels'


def decoder_val_miou(cfg: str, ckpt: str, work: str, data: str, log, options=()) -> float:
    """The model's decoder tested on the val split (tools/test.py), its mIoU."""
    run('tools/test.py', cfg, ckpt, '--work-dir', f'{work}/test_decoder', '--cfg-options', f'data_root={data}',
        *options, 'test_dataloader.dataset.ann_file=ImageSets/Segmentation/val.txt', log=log)
    return round(float(read_logged_metrics(osp.join(ROOT, f'{work}/test_decoder'))['mIoU']), 2)


def retrain_miou(labels: str, work: str, data: str, args, log) -> float:
    """The toy DeepLabV3+ trained --retrain-iters on a pseudo-label folder, its mIoU on val."""
    seg = f'{work}/retrain'
    seg_ckpt = train(SEG_CFG, seg, args.retrain_iters, data, log, f'train_dataloader.dataset.pseudo_label_dir={labels}')
    run('tools/test.py', SEG_CFG, seg_ckpt, '--work-dir', f'{seg}_test', '--cfg-options', f'data_root={data}',
        log=log)
    return round(float(read_logged_metrics(osp.join(ROOT, f'{seg}_test'))['mIoU']), 2)


def measure_refiner(cfg: str, ckpt: str, work: str, data: str, args, log, options=()) -> dict:
    """The columns of a row that refines seeds (WeakCLIP): its decoder on val, and its pseudo masks on train
    (the decoder's predictions with classes outside the image label set to 255, dense CRF), as the CRF
    pseudo-label column, so that the row reads against the row whose seeds it was trained on."""
    res = dict(decoder_miou=decoder_val_miou(cfg, ckpt, work, data, log, options))
    labels = crf_label_dir(work)
    run('tools/make_pseudo_labels.py', cfg, ckpt, '--out-dir', labels, '--source', 'decoder', '--crf',
        '--workers', str(args.workers), '--cfg-options', f'data_root={data}', *options, log=log)
    res['pseudo_miou'] = pseudo_miou(cfg, data, labels, options=options)
    if args.retrain:
        res['retrain_miou'] = retrain_miou(labels, work, data, args, log)
    return res


def one_seed(seed: int, rows: list, args) -> dict:
    out = f'{args.out}/seed{seed}'
    data = f'{out}/toy_voc'
    os.makedirs(out, exist_ok=True)
    with open(osp.join(ROOT, out, 'commands.log'), 'a') as log:
        if not osp.isfile(osp.join(ROOT, data, 'meta.json')):
            run('tools/dataset_converters/make_toy_voc.py', '--out', data, '--seed', str(seed),
                '--num-train', str(args.num_train), '--num-val', str(args.num_val), log=log)
        bg_train = pseudo_miou(CAM_CFG, data, '--all-background', '--split', 'train_eval')
        results = {'all background': dict(cam_miou=bg_train, pseudo_miou=bg_train,
                                          retrain_miou=pseudo_miou(CAM_CFG, data, '--all-background', '--split',
                                                                   'val')),
                   'centre prior': centre_prior(data)}
        t = time.time()
        init = train(CAM_CFG, f'{out}/init', args.init_iters, data, log)
        results[f'CAM, shared start ({args.init_iters} it)'] = measure(CAM_CFG, init, f'{out}/init', data, args,
                                                                       log, pseudo=False)
        print(f'seed {seed}: shared start done ({time.time() - t:.0f} s)', flush=True)
        row_work = {}  # row name -> its work dir (its CRF pseudo labels are the seeds of refiner rows)
        for i, row in enumerate(rows):
            t = time.time()
            work = f'{out}/row{i}'
            opts = row.get('options', [])
            if row.get('seeds') is not None:  # a refiner: trained on another row's pseudo labels
                ckpt = train(row['config'], work, args.iters, data, log,
                             f'train_dataloader.dataset.pseudo_label_dir={crf_label_dir(row_work[row["seeds"]])}',
                             *opts)
                label = f'{row["name"]} on {row["seeds"]} seeds ({args.iters} it)'
                results[label] = measure_refiner(row['config'], ckpt, work, data, args, log, opts)
            else:
                if row['init'] == 'cam':
                    ckpt = train(row['config'], work, args.iters, data, log, f'load_from={init}', *opts)
                    label = f'{row["name"]} (+{args.iters} it)'
                else:
                    ckpt = train(row['config'], work, args.init_iters + args.iters, data, log, *opts)
                    label = f'{row["name"]} ({args.init_iters + args.iters} it)'
                results[label] = measure(row['config'], ckpt, work, data, args, log, options=opts)
                row_work[row['name']] = work
            results[label]['seconds'] = round(time.time() - t)
            print(f'seed {seed}: {label}: {results[label]}', flush=True)
    return results


def cell(all_results: dict, row: str, key: str) -> list:
    """The values of one table cell over the seeds (seeds where the row has no such value are left out)."""
    return [r[row][key] for r in all_results.values() if r.get(row, {}).get(key) is not None]


def all_rows(all_results: dict) -> list:
    """Every row of every seed, in the order they first appear."""
    return list(dict.fromkeys(r for res in all_results.values() for r in res))


def merge_results(paths) -> dict:
    """The results.json files of several runs as one {seed: {row: values}} (a seed's rows are joined; a row two
    files give for the same seed must have the same figures, as the CAM rows every run of a seed reproduces;
    different figures are an error)."""
    def figures(values):
        return {k: v for k, v in values.items() if k != 'seconds'}

    merged = {}
    for path in paths:
        with open(osp.join(path, 'results.json') if osp.isdir(path) else path) as f:
            for seed, rows in json.load(f).items():
                have = merged.setdefault(seed, {})
                clash = sorted(r for r in set(rows) & set(have) if figures(rows[r]) != figures(have[r]))
                if clash:
                    raise ValueError(f'{path}: {seed} rows {clash} differ from another file\'s')
                have.update({r: v for r, v in rows.items() if r not in have})
    return dict(sorted(merged.items(), key=lambda kv: int(kv[0].split()[-1])))


def fmt(values) -> str:
    if not values:
        return '-'
    if len(values) == 1:
        return f'{values[0]:.4g}' if abs(values[0]) < 1 else f'{values[0]:.2f}'
    m, s = float(np.mean(values)), float(np.std(values))
    return f'{m:.3f} ± {s:.3f}' if abs(m) < 1 else f'{m:.2f} ± {s:.2f}'


def table(all_results: dict) -> str:
    rows = all_rows(all_results)
    lines = ['| method | ' + ' | '.join(h for _, h, _ in COLUMNS) + ' |',
             '|---|' + '---:|' * len(COLUMNS)]
    for r in rows:
        cells = [fmt(cell(all_results, r, k)) for k, _, _ in COLUMNS]
        lines.append(f'| {r} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def chart(all_results: dict, path: str, title: str):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = all_rows(all_results)
    cols = [(k, h) for k, h, show in COLUMNS if show]
    fig, ax = plt.subplots(figsize=(2.2 + 1.9 * len(cols), 4.2))
    width = 0.8 / len(rows)
    for i, r in enumerate(rows):
        means, stds = [], []
        for k, _ in cols:
            v = cell(all_results, r, k)
            means.append(np.mean(v) if v else np.nan)
            stds.append(np.std(v) if len(v) > 1 else 0)
        ax.bar(np.arange(len(cols)) + (i - (len(rows) - 1) / 2) * width, means, width, yerr=stds, label=r,
               capsize=2)
    ax.set_xticks(np.arange(len(cols)), [h.replace(' (', '\n(') for _, h in cols])
    ax.set_ylabel('mIoU (%)')
    ax.set_title('\n'.join(textwrap.wrap(title, 100)), fontsize=9)
    ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('configs', nargs='*', help='method configs (default: configs/toy/* with toy_compare)')
    p.add_argument('--seeds', type=int, nargs='+', default=[0])
    p.add_argument('--iters', type=int, default=1000)
    p.add_argument('--init-iters', type=int, default=1000)
    p.add_argument('--retrain-iters', type=int, default=1000)
    p.add_argument('--no-retrain', dest='retrain', action='store_false')
    p.add_argument('--refine-seeds', nargs='+', metavar='ROW',
                   help="seed sources of the refiner rows (row names, e.g. CAM 'CLIMS (toy-clip)'); one row each")
    p.add_argument('--variant', nargs='+', action='append', default=[], metavar='WORD',
                   help='NAME CONFIG [KEY=VALUE ...]: one more row, CONFIG with those --cfg-options (repeatable)')
    p.add_argument('--num-train', type=int, default=600, help='toy set size (make_toy_voc.py)')
    p.add_argument('--num-val', type=int, default=100)
    p.add_argument('--workers', type=int, default=1, help='CRF worker processes of make_pseudo_labels.py')
    p.add_argument('--out', default='work_dirs/compare_methods')
    p.add_argument('--keep', action='store_true', help='keep an existing OUT (default: start clean)')
    p.add_argument('--merge', nargs='+', metavar='RUN',
                   help='train nothing: one table and chart in OUT from the results.json of earlier runs (folders '
                        'or files), e.g. seeds or rows run in different sessions; a cell averages the seeds that '
                        'have it')
    args = p.parse_args(argv)
    os.chdir(ROOT)
    if args.merge:
        all_results = merge_results(args.merge)
        os.makedirs(args.out, exist_ok=True)
        seeds = ', '.join(s[len('seed '):] for s in all_results)
        title = f'toy sets of seed {seeds}, merged from {len(args.merge)} runs'
        atomic_write_text(f'{args.out}/results.json', json.dumps(all_results, indent=1))
        md = f'{title}\n\n{table(all_results)}\n'
        atomic_write_text(f'{args.out}/results.md', md)
        chart(all_results, f'{args.out}/results.png', title)
        print(md)
        return
    variants = [variant_spec(v) for v in args.variant]
    configs = args.configs or ([] if variants else method_configs())
    rows = order_rows([dict(name='CAM', config=CAM_CFG, init='cam')] + [row_spec(c) for c in configs] + variants,
                      args.refine_seeds)
    names = [(r['name'], r.get('seeds')) for r in rows]  # a refiner's label names its seeds too
    if len(set(names)) < len(names):
        raise ValueError(f'two rows share a name: {[n for n, _ in names]}; give each --variant its own NAME')
    if osp.isdir(args.out) and not args.keep:
        shutil.rmtree(args.out)
    os.makedirs(args.out, exist_ok=True)
    start = time.time()
    all_results = {}
    for seed in args.seeds:
        all_results[f'seed {seed}'] = one_seed(seed, rows, args)
        atomic_write_text(f'{args.out}/results.json', json.dumps(all_results, indent=1))
        seeds = ', '.join(s[len('seed '):] for s in all_results)
        title = (f'toy sets of seed {seeds}: shared start {args.init_iters} it, then {args.iters} it per row '
                 f'(rows with their own start: {args.init_iters + args.iters} it)' +
                 (f'; retrain {args.retrain_iters} it' if args.retrain else ''))
        md = f'{title} ({time.time() - start:.0f} s)\n\n{table(all_results)}\n'
        atomic_write_text(f'{args.out}/results.md', md)
        chart(all_results, f'{args.out}/results.png', title)
    print('\n' + md)
    print(f'written: {args.out}/results.json, results.md, results.png')


if __name__ == '__main__':
    main()
