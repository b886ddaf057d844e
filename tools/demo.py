"""The quick start (`make demo`): the whole multi-stage WSSS pipeline on the generated toy dataset, on CPU.

    toy data -> train CAM net (tools/train.py) -> CAM quality (tools/test.py, CAMMetric on train)
      -> pseudo labels with dense CRF (tools/make_pseudo_labels.py) -> their quality
      -> CAM overlays (tools/visualize_cams.py) -> retrain DeepLabV3+ on pseudo labels (tools/train.py)
      -> segmentation mIoU on val (tools/test.py), next to the all-background baseline.

Every step runs the real command-line tool in a subprocess, as a user would. Outputs go to work_dirs/demo/.
"""
import glob
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))
from mmseg_wsss.apis.cli import read_logged_metrics  # noqa: E402

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
PY = sys.executable
DATA = 'data/toy_voc'
OUT = 'work_dirs/demo'
CAM_CFG = 'configs/toy/cam_r18-tiny-d8_1xb8-2k_toy-112x112.py'
SEG_CFG = 'configs/toy/deeplabv3plus_r18-tiny-d8_1xb8-1k_toy-pseudo-112x112.py'


def run(*cmd, capture=False):
    print('\n$ ' + ' '.join(cmd), flush=True)
    t = time.time()
    res = subprocess.run([PY, *cmd], cwd=ROOT, check=True, text=True,
                         stdout=subprocess.PIPE if capture else None)
    print(f'  ({time.time() - t:.0f} s)', flush=True)
    return res.stdout if capture else None


def main():
    os.chdir(ROOT)
    start = time.time()
    if not osp.isfile(osp.join(DATA, 'meta.json')):
        run('tools/dataset_converters/make_toy_voc.py', '--out', DATA)
    if osp.isdir(OUT):
        shutil.rmtree(OUT)

    run('tools/train.py', CAM_CFG, '--work-dir', f'{OUT}/cam')
    cam_ckpt = f'{OUT}/cam/iter_2000.pth'
    run('tools/test.py', CAM_CFG, cam_ckpt, '--work-dir', f'{OUT}/cam_test')
    cam = read_logged_metrics(f'{OUT}/cam_test')
    thr = cam['cam/best_bg_thr']

    pseudo = f'{OUT}/pseudo_labels'
    run('tools/make_pseudo_labels.py', CAM_CFG, cam_ckpt, '--out-dir', pseudo, '--crf',
        '--cfg-options', f'model.test_cfg.bg_thr={thr}')
    pl = json.loads(run('tools/analysis_tools/eval_pseudo_labels.py', CAM_CFG, pseudo, capture=True)
                    .strip().splitlines()[-1])
    run('tools/visualize_cams.py', CAM_CFG, cam_ckpt, '--out-dir', f'{OUT}/cam_vis', '--num', '16',
        '--pseudo-dir', pseudo)

    run('tools/train.py', SEG_CFG, '--work-dir', f'{OUT}/retrain',
        '--cfg-options', f'train_dataloader.dataset.pseudo_label_dir={pseudo}')
    run('tools/test.py', SEG_CFG, f'{OUT}/retrain/iter_1000.pth', '--work-dir', f'{OUT}/retrain_test')
    seg = read_logged_metrics(f'{OUT}/retrain_test')
    bg_val = json.loads(run('tools/analysis_tools/eval_pseudo_labels.py', CAM_CFG, '--all-background',
                            '--split', 'val', capture=True).strip().splitlines()[-1])
    bg_train = json.loads(run('tools/analysis_tools/eval_pseudo_labels.py', CAM_CFG, '--all-background',
                              capture=True).strip().splitlines()[-1])

    # PseudoLabelQualityHook (in the toy CAM config) logged the CAM pseudo labels' mIoU during training
    pattern = r"pseudo labels 'cam' at iter (\d+) \(\d+ images\): \{'mIoU': ([\d.]+)"
    curve = {int(it): float(m) for log in glob.glob(f'{OUT}/cam/*/*.log')
             for it, m in re.findall(pattern, open(log).read())}

    summary = {
        'CAM mIoU (train, best bg threshold)': cam['cam/mIoU'],
        'best bg threshold': thr,
        'pseudo-label mIoU (train, CRF, 255 as background)': pl['mIoU'],
        'pseudo-label confident fraction': pl['confident_fraction'],
        'all-background mIoU (train)': bg_train['mIoU'],
        'retrained DeepLabV3+ mIoU (val)': round(float(seg['mIoU']), 2),
        'all-background mIoU (val)': bg_val['mIoU'],
        'training-time CAM pseudo-label mIoU by iteration (64 train images, hook)': curve,
    }
    with open(f'{OUT}/summary.json', 'w') as f:
        json.dump(summary, f, indent=1)
    print('\n================ mmseg-wsss demo (toy dataset, CPU) ================')
    for k, v in summary.items():
        print(f'{k:55s} {v}')
    print(f'\nCAM network checkpoint     {cam_ckpt}')
    print(f'CAM metrics (tools/test.py) {OUT}/cam_test/')
    print(f'pseudo labels (PNG)        {pseudo}/')
    print(f'CAM overlays (PNG grids)   {OUT}/cam_vis/')
    print(f'overlays during training   {OUT}/cam/<timestamp>/vis_data/vis_image/cam_overlays_<iter>.png')
    print(f'retrained segmentor        {OUT}/retrain/iter_1000.pth')
    print(f'summary                    {OUT}/summary.json')
    print(f'total time                 {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()
