"""The toy DALNet through the standard tools: train with every term of Eq. 7 on (the CLIP image tower trained, the
text tower frozen and left out of the checkpoint), test with the paper protocol's --tta --crf, and CAM pseudo
labels from the checkpoint."""
import json

import torch

from tests.conftest import ROOT, run_tool, toy_options

DALNET = 'configs/toy/dalnet_toy-clip_1xb8-2k_toy-112x112.py'
ENV = dict(PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
# random toy-clip towers (the tests do not need `make toy-teachers`)
RANDOM_CLIP = ['model.backbone.pretrained=None', 'model.encoders.clip_text.pretrained=None']
NOW = RANDOM_CLIP + ['train_dataloader.batch_size=2', 'model.losses.seg.start_iter=0', 'custom_hooks.1.interval=2',
                     'custom_hooks.1.num_images=2']


def test_dalnet_train_test_tta_crf_and_pseudo_labels(toy_root, tmp_path):
    work = tmp_path / 'dalnet'
    res = run_tool('tools/train.py', DALNET, '--work-dir', str(work), '--cfg-options', 'randomness.seed=0',
                   *toy_options(toy_root, iters=2, extra=NOW)[1:],
                   'default_hooks.checkpoint.interval=1', env=ENV)
    log = res.stdout + res.stderr
    for key in ('cls.loss', 'gia.loss', 'lea.loss', 'cc.loss', 'seg.loss_ce', 'pseudo_label/cam/mIoU'):
        assert key in log, key
    state = torch.load(work / 'iter_2.pth', map_location='cpu', weights_only=False)['state_dict']
    assert not any(k.startswith('encoders.clip_text') for k in state)  # the frozen text tower is not saved
    # the image tower is trained (reconstruction 1): its weights move between iterations 1 and 2
    first = torch.load(work / 'iter_1.pth', map_location='cpu', weights_only=False)['state_dict']
    tower = [k for k in state if k.startswith('backbone.') and k.endswith('attn.in_proj_weight')]
    assert tower and all(not torch.equal(state[k], first[k]) for k in tower)

    ckpt = str(work / 'iter_2.pth')
    test_opts = ['--cfg-options', f'data_root={toy_root}', *RANDOM_CLIP]
    run_tool('tools/test.py', DALNET, ckpt, '--tta', '--crf', '--work-dir', str(tmp_path / 'test'), *test_opts,
             env=ENV)
    metrics = json.loads(open(next((tmp_path / 'test').glob('*/*.json'))).read().strip().splitlines()[-1])
    assert 0 <= metrics['mIoU'] <= 100 and 'cam/mIoU' in metrics
    run_tool('tools/make_pseudo_labels.py', DALNET, ckpt, '--out-dir', str(tmp_path / 'labels'), '--source', 'cam',
             *test_opts, env=ENV)
    assert len(list((tmp_path / 'labels').glob('*.png'))) == 24
