import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import _load_checkpoint

from mmseg_wsss.utils import compat
from mmseg_wsss.utils.compat import PretrainedWeightsNotFound


def test_mmengine_style_checkpoint_loads_with_new_torch(tmp_path):
    ckpt = dict(meta=dict(epoch=1, seed=np.int64(3), hist=HistoryBuffer([1.0, 2.0], [1, 1])),
                state_dict=dict(w=torch.ones(2)), message_hub=dict(log_scalars=dict(loss=HistoryBuffer([0.5], [1]))))
    path = str(tmp_path / 'ckpt.pth')
    torch.save(ckpt, path)
    with pytest.raises(Exception):
        torch.load(path, weights_only=True)  # what torch >= 2.6 does by default
    loaded = _load_checkpoint(path, map_location='cpu')
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))
    assert loaded['meta']['hist'].current() == 2.0


def test_missing_local_checkpoint(tmp_path):
    with pytest.raises(PretrainedWeightsNotFound, match='Checkpoint not found: .*nope.pth'):
        _load_checkpoint(str(tmp_path / 'nope.pth'))


def test_unreachable_url_fails_fast_naming_file_and_place(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    timeouts, urlopen = [], compat.urllib.request.urlopen
    monkeypatch.setattr(compat.urllib.request, 'urlopen',
                        lambda url, timeout=None, **k: timeouts.append(timeout) or urlopen(url, timeout=timeout, **k))
    with pytest.raises(PretrainedWeightsNotFound) as e:
        _load_checkpoint('http://127.0.0.1:9/weights/resnet18-abc.pth')
    # one attempt, bounded by a short timeout (checked by the call, not by a wall clock on a loaded machine)
    assert timeouts == [compat.DOWNLOAD_TIMEOUT_S] and compat.DOWNLOAD_TIMEOUT_S <= 15
    msg = str(e.value)
    assert 'http://127.0.0.1:9/weights/resnet18-abc.pth' in msg
    assert osp.join(str(tmp_path / 'hub'), 'checkpoints', 'resnet18-abc.pth') in msg
    assert not list((tmp_path / 'hub' / 'checkpoints').glob('*'))  # no partial download left behind


def test_url_served_from_cache_and_torchvision_scheme(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    calls = []
    monkeypatch.setattr(compat.urllib.request, 'urlopen', lambda *a, **k: calls.append(a) or (_ for _ in ()).throw(
        OSError('offline')))
    with pytest.raises(PretrainedWeightsNotFound, match=r'resnet50-\w+\.pth'):
        _load_checkpoint('torchvision://resnet50')
    assert calls and 'download.pytorch.org' in calls[0][0]
    cached = tmp_path / 'hub' / 'checkpoints' / 'x.pth'
    cached.parent.mkdir(parents=True, exist_ok=True)
    torch.save(dict(a=torch.zeros(1)), cached)
    assert 'a' in _load_checkpoint('https://example.invalid/models/x.pth')


def test_pickle_only_for_local_mmengine_checkpoints(tmp_path, monkeypatch):
    ckpt = dict(meta=dict(obj=HistoryBuffer([1.0], [1])), state_dict=dict(w=torch.ones(1)))
    local = tmp_path / 'local.pth'
    torch.save(ckpt, local)
    assert 'state_dict' in _load_checkpoint(str(local))  # local mmengine checkpoint: retried with pickle
    monkeypatch.setenv('MMSEG_WSSS_WEIGHTS_ONLY', '1')
    with pytest.raises(Exception, match='Weights only load failed'):
        _load_checkpoint(str(local))
    monkeypatch.delenv('MMSEG_WSSS_WEIGHTS_ONLY')
    # a downloaded (URL) file is never unpickled beyond plain tensors and containers
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    cached = tmp_path / 'hub' / 'checkpoints' / 'evil.pth'
    cached.parent.mkdir(parents=True)
    torch.save(ckpt, cached)
    with pytest.raises(Exception, match='Weights only load failed'):
        _load_checkpoint('https://example.invalid/models/evil.pth')
