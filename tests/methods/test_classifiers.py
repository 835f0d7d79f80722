"""Downstream classifiers RepVGG and ShuffleNet-V2: interface, sizes, reparameterisation, shuffle, training."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from semcom_core.models import RepVGGBlock, RepVGGCifar, ShuffleNetV2Cifar, build_model, channel_shuffle

SHAPES = [(1, 28, 28), (3, 32, 32)]


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _train_steps(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float = 1e-3) -> list[float]:
    """Adam steps on a fixed batch; returns the loss before each step."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


@pytest.mark.parametrize("arch,cls", [("repvgg", RepVGGCifar), ("shufflenet_v2", ShuffleNetV2Cifar)])
@pytest.mark.parametrize("shape", SHAPES)
def test_build_shapes_and_head_of_features(arch, cls, shape):
    torch.manual_seed(0)
    # extra keys such as a ResNet "depth" are ignored
    model = build_model({"arch": arch, "in_channels": shape[0], "num_classes": 10, "depth": 20}).eval()
    assert isinstance(model, cls)
    assert isinstance(model.head, nn.Linear) and model.head.out_features == 10
    x = torch.rand(3, *shape)
    with torch.no_grad():
        logits, feats = model(x), model.features(x)
    assert logits.shape == (3, 10)
    assert feats.shape == (3, model.head.in_features)
    assert torch.allclose(model.head(feats), logits, atol=1e-6)
    assert build_model({"arch": arch, "in_channels": shape[0], "num_classes": 7})(x).shape == (3, 7)


def test_width_option_scales_the_model():
    for arch, small, default in (("repvgg", 16, 32), ("shufflenet_v2", 12, 24)):
        m_small = build_model({"arch": arch, "in_channels": 3, "width": small})
        m_default = build_model({"arch": arch, "in_channels": 3})
        assert m_small.head.in_features * 2 == m_default.head.in_features == 8 * default
        assert _n_params(m_small) < _n_params(m_default)


@pytest.mark.parametrize("in_channels", [1, 3])
def test_parameter_counts_order(in_channels):
    n = {arch: _n_params(build_model({"arch": arch, "depth": 20, "in_channels": in_channels, "num_classes": 10}))
         for arch in ("repvgg", "resnet_cifar", "shufflenet_v2")}
    assert n["repvgg"] > 3 * n["resnet_cifar"]
    assert n["resnet_cifar"] > 1.5 * n["shufflenet_v2"]
    assert n["shufflenet_v2"] < 150_000


def test_repvgg_reparameterize_keeps_outputs():
    torch.manual_seed(0)
    model = build_model({"arch": "repvgg", "in_channels": 1, "num_classes": 10})
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    _train_steps(model, x, y, steps=2, lr=1e-2)  # moves weights and BN statistics away from their init
    # make the BN statistics clearly non-trivial, so that folding them is really exercised
    with torch.no_grad():
        for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
    blocks = [m for m in model.modules() if isinstance(m, RepVGGBlock)]
    assert sum(b.branch_id is not None for b in blocks) == 4  # the stride-1, same-width blocks
    n_conv = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    assert n_conv == 2 * len(blocks)

    model.eval()
    x_test = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        before = model(x_test)
        assert model.reparameterize() is model
        after = model(x_test)
    assert torch.allclose(after, before, rtol=1e-4, atol=1e-4 * float(before.abs().max()))
    assert all(b.deploy for b in blocks)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == len(blocks) < n_conv
    assert all(c.kernel_size == (3, 3) and c.bias is not None for c in convs)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    model.reparameterize()  # a second call is a no-op
    with torch.no_grad():
        assert torch.equal(model(x_test), after)


def test_repvgg_block_fusion_matches_branches():
    torch.manual_seed(1)
    for c_in, c_out, stride in ((8, 8, 1), (4, 8, 2)):
        block = RepVGGBlock(c_in, c_out, stride)
        with torch.no_grad():
            for bn in (m for m in block.modules() if isinstance(m, nn.BatchNorm2d)):
                bn.weight.uniform_(0.5, 1.5), bn.bias.uniform_(-1, 1)
                bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2.0)
        block.eval()
        x = torch.randn(2, c_in, 9, 9)
        with torch.no_grad():
            before = block(x)
            block.fuse()
            after = block(x)
        side = (9 - 1) // stride + 1
        assert after.shape == (2, c_out, side, side)
        assert torch.allclose(after, before, atol=1e-5)


def test_channel_shuffle_interleaves_halves():
    c = 8
    x = torch.arange(c, dtype=torch.float32).reshape(1, c, 1, 1).expand(2, c, 3, 3)
    out = channel_shuffle(x, 2)
    order = out[0, :, 0, 0].tolist()
    assert order == [0, 4, 1, 5, 2, 6, 3, 7]
    assert sorted(order) == list(range(c))  # a permutation: same multiset of channels
    assert torch.equal(out[1], out[0])
    assert torch.equal(channel_shuffle(x, 4)[0, :, 0, 0], torch.tensor([0., 2, 4, 6, 1, 3, 5, 7]))


@pytest.mark.parametrize("arch,shape", [("repvgg", (3, 32, 32)), ("shufflenet_v2", (3, 32, 32)),
                                        ("shufflenet_v2", (1, 28, 28))])
def test_few_adam_steps_overfit_a_fixed_batch(arch, shape):
    torch.manual_seed(0)
    model = build_model({"arch": arch, "in_channels": shape[0], "num_classes": 10})
    x, y = torch.rand(32, *shape), torch.randint(0, 10, (32,))
    losses = _train_steps(model, x, y, steps=8, lr=3e-3)
    model.train()
    with torch.no_grad():
        final = float(F.cross_entropy(model(x), y))
    assert final < 0.5 * losses[0], (losses, final)
