"""Architectures: sizes follow the bandwidth ratio, and a few training steps lower the loss."""

from __future__ import annotations

import pytest
import torch

from semcom_core.channels import make_channel
from semcom_core.methods import DeepJSCC
from semcom_core.methods.classifier import augment_batch
from semcom_core.models import JSCCDecoder, JSCCEncoder, build_model, jscc_geometry, resnet20


@pytest.mark.parametrize("shape,ratio,k", [((1, 28, 28), 1 / 12, 65), ((3, 32, 32), 1 / 24, 128),
                                           ((3, 32, 32), 1 / 6, 512), ((3, 32, 32), 1 / 2.5, 1229)])
def test_encoder_output_matches_ratio(shape, ratio, k):
    geo = jscc_geometry(shape, ratio)
    assert geo["k"] == k
    enc, dec = JSCCEncoder(shape, k, width=8), JSCCDecoder(shape, k, width=8)
    z = enc(torch.rand(2, *shape))
    assert z.shape == (2, 2 * k)
    x_hat = dec(z)
    assert x_hat.shape == (2, *shape)
    assert 0 <= float(x_hat.detach().min()) and float(x_hat.detach().max()) <= 1  # sigmoid output


def test_geometry_rejects_bad_input():
    with pytest.raises(ValueError, match="multiples of 4"):
        jscc_geometry((1, 30, 30), 1 / 12)
    with pytest.raises(ValueError, match="ratio"):
        jscc_geometry((1, 28, 28), 1.5)
    with pytest.raises(ValueError, match="expects"):
        JSCCDecoder((1, 28, 28), 65, 8)(torch.zeros(2, 100))
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model({"arch": "vgg"})


def test_resnet20_shape_and_depth():
    net = resnet20(in_channels=1)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(convs) + 1 == 20  # 19 3x3 convs + the linear head
    assert net(torch.rand(4, 1, 28, 28)).shape == (4, 10)
    assert net.features(torch.rand(4, 1, 28, 28)).shape == (4, 64)


def test_augment_keeps_shape_and_content():
    x = torch.rand(8, 3, 32, 32)
    out = augment_batch(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert not torch.equal(out, x)
    # crops of a constant image stay constant inside (zero padding only at borders)
    ones = augment_batch(torch.ones(4, 1, 28, 28), torch.Generator().manual_seed(1))
    assert float(ones[:, :, 4:24, 4:24].min()) == 1.0


def test_few_training_steps_lower_the_loss():
    torch.manual_seed(0)
    method = DeepJSCC((1, 28, 28), 1 / 12, width=8, channel={"name": "awgn"}, train_snr_db=(10, 10))
    opt = method.configure_optimizers()["optimizer"]
    x = torch.rand(16, 1, 28, 28) * (torch.rand(16, 1, 1, 1) > 0.5)
    losses = []
    for _ in range(25):
        loss = method.training_step((x, torch.zeros(16, dtype=torch.long)), 0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5


def test_transceiver_trains_through_fading_channel():
    method = DeepJSCC((1, 28, 28), 1 / 12, width=8, channel={"name": "rayleigh", "csi": "ls", "pilots": 2})
    loss = method.training_step((torch.rand(4, 1, 28, 28), torch.zeros(4, dtype=torch.long)), 0)
    loss.backward()
    grads = [p.grad for p in method.transceiver.encoder.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads)


def test_unknown_channel_in_method_config():
    with pytest.raises(ValueError, match="unknown channel"):
        DeepJSCC((1, 28, 28), 1 / 12, width=8, channel={"name": "awgm"})
    assert make_channel("awgn") is not None
