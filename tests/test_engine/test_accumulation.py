"""Keeping the paper's total batch on fewer GPUs with mmengine's ``optim_wrapper.accumulative_counts`` (README,
"Fewer GPUs than the paper"): what it reproduces, and what it does not (BatchNorm's batch statistics)."""
import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.optim import build_optim_wrapper


def _cam_net(norm: bool) -> nn.Module:
    """A tiny CAM network: conv features, a 1x1 classifier, global average pooling (BatchNorm or none)."""
    torch.manual_seed(0)
    layers = [nn.Conv2d(3, 8, 3, padding=1)] + ([nn.BatchNorm2d(8)] if norm else []) + [nn.ReLU(),
                                                                                       nn.Conv2d(8, 4, 1)]
    return nn.Sequential(*layers)


def _loss(model, images, labels):
    return F.multilabel_soft_margin_loss(model(images).mean((2, 3)), labels)


def _train(model, cfg, batches, max_iters):
    wrapper = build_optim_wrapper(model, cfg)
    wrapper.initialize_count_status(model, 0, max_iters)  # what mmengine's train loop does first
    model.train()
    for images, labels in batches:
        wrapper.update_params(_loss(model, images, labels))
    return model


@pytest.mark.parametrize('optimizer', [dict(type='SGD', lr=0.5, momentum=0.9),
                                       dict(type='AdamW', lr=1e-2, weight_decay=0.01)])
def test_two_accumulated_batches_of_one_equal_one_batch_of_two_without_batchnorm(optimizer):
    torch.manual_seed(1)
    images, labels = torch.randn(4, 3, 8, 8), (torch.rand(4, 4) > 0.5).float()
    pairs = [(images[i:i + 2], labels[i:i + 2]) for i in (0, 2)]  # two steps of batch 2
    singles = [(images[i:i + 1], labels[i:i + 1]) for i in range(4)]  # four micro-batches of 1
    base = _cam_net(norm=False)
    ref = _train(copy.deepcopy(base), dict(type='OptimWrapper', optimizer=optimizer), pairs, 2)
    acc = _train(copy.deepcopy(base), dict(type='OptimWrapper', optimizer=optimizer, accumulative_counts=2),
                 singles, 4)
    moved = sum((a - b).abs().sum() for a, b in zip(ref.state_dict().values(), base.state_dict().values()))
    assert moved > 1e-3  # the two steps did update the weights
    for (name, a), b in zip(ref.state_dict().items(), acc.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def test_with_batchnorm_accumulation_does_not_reproduce_the_batch():
    """BatchNorm normalises each micro-batch with its own statistics (one image here), so the accumulated run
    differs from the large batch: for BN networks (the ResNet CAM / CLIMS / retraining configs) prefer more
    images per GPU, or SyncBN across GPUs, to accumulation."""
    torch.manual_seed(1)
    images, labels = torch.randn(4, 3, 8, 8), (torch.rand(4, 4) > 0.5).float()
    base = _cam_net(norm=True)
    opt = dict(type='SGD', lr=0.5)
    ref = _train(copy.deepcopy(base), dict(type='OptimWrapper', optimizer=opt), [(images[:2], labels[:2])], 1)
    acc = _train(copy.deepcopy(base), dict(type='OptimWrapper', optimizer=opt, accumulative_counts=2),
                 [(images[:1], labels[:1]), (images[1:2], labels[1:2])], 2)
    diff = (ref[0].weight - acc[0].weight).abs().max()
    assert diff > 1e-4
