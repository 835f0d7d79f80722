"""MIJSCC networks (Tables I, II) and mutual-information losses (eqs. 13, 15, 17, 18 of the MIJSCC paper):
shapes, size checks, derangement fake samples, the JS estimator's values and bounds, and gradient flow."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from semcom_core.channels import make_channel
from semcom_core.runs.config import load_config
from semcom_core.runs.image import load_run
from semcom_core.runs.image import train_run

from semcom_core.losses.mutual_information import (derangement, global_mi, js_mi, local_mi, mijscc_loss,
                                                    shuffle_pairs)
from semcom_core.models.mijscc import (GlobalDiscriminator, LocalDiscriminator, MIJSCCDecoder, MIJSCCEncoder,
                                       mijscc_geometry)

REPO = Path(__file__).resolve().parents[2]

LOG2 = math.log(2.0)


# --- networks ------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, n", [((3, 32, 32), 4), ((1, 28, 28), 4)])
@pytest.mark.parametrize("k", [1, 8, 96])
def test_shapes(shape, n, k):
    torch.manual_seed(0)
    enc, dec = MIJSCCEncoder(shape, k, width=8), MIJSCCDecoder(shape, k, width=8)
    gdisc = GlobalDiscriminator(shape, k, width=8, hidden=16)
    ldisc = LocalDiscriminator(enc.feature_shape[0], k, hidden=16)
    x = torch.rand(3, *shape)
    z, f = enc(x, return_features=True)
    assert z.shape == (3, 2 * k)
    assert f.shape == (3, *enc.feature_shape) == (3, 32, n, n)  # 4 * width maps after the third block
    x_hat = dec(z)
    assert x_hat.shape == x.shape
    assert float(x_hat.detach().min()) >= 0.0 and float(x_hat.detach().max()) <= 1.0
    assert gdisc(x, z).shape == (3,)
    assert ldisc(f, z).shape == (3, n, n)


def test_table_one_sizes_for_cifar():
    """Paper's Table I: 64x32x32, 64x16x16, 128x8x8, 256x4x4, 512x1x1 (k = 256), decoder 256x4x4 .. 3x32x32."""
    enc = MIJSCCEncoder((3, 32, 32), 256)
    dec = MIJSCCDecoder((3, 32, 32), 256)
    x = torch.rand(2, 3, 32, 32)
    h = enc.head(x)
    sizes = [tuple(h.shape[1:])]
    for block in enc.blocks:
        h = block(h)
        sizes.append(tuple(h.shape[1:]))
    sizes.append(tuple(enc.out(h).shape[1:]))
    assert sizes == [(64, 32, 32), (64, 16, 16), (128, 8, 8), (256, 4, 4), (512, 1, 1)]
    outs, y = [], enc(x)[:, :, None, None]
    for layer in dec.body:
        y = layer(y)
        if isinstance(layer, nn.ConvTranspose2d):
            outs.append(tuple(y.shape[1:]))
    assert outs == [(256, 4, 4), (128, 8, 8), (64, 16, 16), (3, 32, 32)]
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in dec.modules()) == 4
    assert sum(isinstance(m, nn.BatchNorm2d) for m in dec.modules()) == 3  # none before the sigmoid by default
    assert isinstance(dec.body[-1], nn.Sigmoid)
    paper = MIJSCCDecoder((3, 32, 32), 256, 64, final_bn=True)  # Table I as printed: BN after all four
    assert sum(isinstance(m, nn.BatchNorm2d) for m in paper.modules()) == 4
    assert paper(torch.randn(2, 512)).shape == (2, 3, 32, 32)


def test_discriminator_layer_counts():
    g = GlobalDiscriminator((3, 32, 32), 4, width=8, hidden=16)
    loc = LocalDiscriminator(32, 4, hidden=16)
    assert sum(isinstance(m, nn.Conv2d) for m in g.modules()) == 2
    assert sum(isinstance(m, nn.Linear) for m in g.modules()) == 3
    convs = [m for m in loc.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 3 and all(c.kernel_size == (1, 1) for c in convs)


@pytest.mark.parametrize("stage, n", [(1, 16), (2, 8), (3, 4)])
def test_feature_stage_selects_map(stage, n):
    enc = MIJSCCEncoder((3, 32, 32), 4, width=8, feature_stage=stage)
    _, f = enc(torch.rand(2, 3, 32, 32), return_features=True)
    assert f.shape == (2, *enc.feature_shape) == (2, [8, 16, 32][stage - 1], n, n)


def test_geometry_other_sizes():
    assert mijscc_geometry((1, 28, 28))["sizes"] == [(28, 28), (14, 14), (7, 7), (4, 4)]
    assert mijscc_geometry((3, 64, 48))["sizes"] == [(64, 48), (32, 24), (16, 12), (8, 6)]
    enc, dec = MIJSCCEncoder((3, 64, 48), 5, width=4), MIJSCCDecoder((3, 64, 48), 5, width=4)
    assert dec(enc(torch.rand(2, 3, 64, 48))).shape == (2, 3, 64, 48)


@pytest.mark.parametrize("shape", [(3, 30, 30), (3, 32, 30), (1, 2, 2), (0, 32, 32), (32, 32)])
@pytest.mark.parametrize("cls", [MIJSCCEncoder, MIJSCCDecoder, GlobalDiscriminator])
def test_bad_sizes_raise(cls, shape):
    with pytest.raises(ValueError):
        cls(shape, 4)


def test_bad_inputs_raise():
    enc, dec = MIJSCCEncoder((3, 32, 32), 4, width=4), MIJSCCDecoder((3, 32, 32), 4, width=4)
    gdisc, ldisc = GlobalDiscriminator((3, 32, 32), 4, width=4, hidden=8), LocalDiscriminator(16, 4, hidden=8)
    with pytest.raises(ValueError, match="encoder expects"):
        enc(torch.rand(2, 1, 28, 28))
    with pytest.raises(ValueError, match="decoder expects"):
        dec(torch.rand(2, 7))
    with pytest.raises(ValueError):
        gdisc(torch.rand(2, 3, 32, 32), torch.rand(3, 8))
    with pytest.raises(ValueError):
        ldisc(torch.rand(2, 15, 4, 4), torch.rand(2, 8))
    with pytest.raises(ValueError):
        MIJSCCEncoder((3, 32, 32), 0)


# --- fake samples ----------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [2, 3, 5, 32])
def test_shuffle_pairs_never_pairs_a_sample_with_itself(n):
    g = torch.Generator().manual_seed(n)
    rows = torch.arange(n, dtype=torch.float32)[:, None].expand(n, 3)  # row i holds i
    seen = set()
    for _ in range(200):
        shuffled = shuffle_pairs(rows, g)
        source = shuffled[:, 0].long()
        assert sorted(source.tolist()) == list(range(n))  # a permutation: every sample used once
        assert not (source == torch.arange(n)).any()
        seen.add(tuple(source.tolist()))
    if n == 3:
        assert seen == {(1, 2, 0), (2, 0, 1)}  # both derangements of 3 occur
    if n == 2:
        assert seen == {(1, 0)}


def test_shuffle_pairs_reproducible_and_rejects_single_sample():
    x = torch.randn(6, 2, 4, 4)
    a = shuffle_pairs(x, torch.Generator().manual_seed(5))
    b = shuffle_pairs(x, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    with pytest.raises(ValueError):
        shuffle_pairs(torch.randn(1, 3))
    with pytest.raises(ValueError):
        derangement(1)


# --- JS estimator (eq. 13) -----------------------------------------------------------------------------

def test_js_mi_hand_values_and_bounds():
    zeros = torch.zeros(5)
    assert float(js_mi(zeros, zeros)) == pytest.approx(-2 * LOG2, abs=1e-7)  # uninformed discriminator
    real, fake = torch.tensor([0.3, -1.2, 2.0]), torch.tensor([0.5, -0.7])
    by_hand = (sum(-math.log1p(math.exp(-t)) for t in real.tolist()) / 3
               - sum(math.log1p(math.exp(t)) for t in fake.tolist()) / 2)
    assert float(js_mi(real, fake)) == pytest.approx(by_hand, rel=1e-6)
    # perfectly separated scores approach the upper bound 0, reversed ones go far below -2 log 2
    assert -1e-6 < float(js_mi(torch.full((4,), 30.0), torch.full((4,), -30.0))) <= 0.0
    assert float(js_mi(torch.full((4,), -5.0), torch.full((4,), 5.0))) < -2 * LOG2 - 8
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        assert float(js_mi(10 * torch.randn(50, generator=g), 10 * torch.randn(50, generator=g))) < 0.0


class _PairMLP(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * d, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))

    def forward(self, x, z):
        return self.net(torch.cat([x, z], dim=1)).squeeze(1)


def _trained_estimate(rho: float, d: int = 4, steps: int = 300) -> float:
    """Train T on x ~ N(0, I), z = rho x + sqrt(1 - rho^2) noise by maximising eq. 15, then estimate on held-out
    data. The optimum is 2 JSD(p(x,z) || p(x)p(z)) - 2 log 2: -2 log 2 at rho = 0, rising to 0 as rho -> 1."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)

    def sample(n):
        x = torch.randn(n, d, generator=g)
        return x, rho * x + math.sqrt(1 - rho ** 2) * torch.randn(n, d, generator=g)

    disc = _PairMLP(d)
    opt = torch.optim.Adam(disc.parameters(), lr=1e-2)
    for _ in range(steps):
        x, z = sample(256)
        loss = -global_mi(disc, x, z, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        x, z = sample(4096)
        return float(global_mi(disc, x, z, g))


def test_js_estimate_rises_with_dependence():
    estimates = [_trained_estimate(rho) for rho in (0.0, 0.5, 0.9, 0.999)]
    assert all(e < 0.0 for e in estimates)  # eq. 13 is always negative
    assert abs(estimates[0] + 2 * LOG2) < 0.05  # independent: nothing to find, stays at -2 log 2
    assert estimates[0] < estimates[1] - 0.1 < estimates[2] - 0.2 < estimates[3] - 0.3  # strictly rising
    assert estimates[3] > -0.1  # nearly deterministic: close to the upper bound 0


# --- global / local MI (eqs. 15, 17) ---------------------------------------------------------------------

def test_global_mi_scores_fake_pairs_against_a_derangement():
    x, z = torch.randn(6, 3), torch.randn(6, 3)

    def disc(a, b):
        return (a * b).sum(1)

    perm = derangement(6, torch.Generator().manual_seed(9))
    expected = js_mi((x * z).sum(1), (x[perm] * z).sum(1))
    assert float(global_mi(disc, x, z, torch.Generator().manual_seed(9))) == pytest.approx(float(expected))


def test_local_mi_averages_over_positions():
    torch.manual_seed(0)
    ldisc = LocalDiscriminator(5, 2, hidden=8)
    f, z = torch.randn(4, 5, 3, 3), torch.randn(4, 4)
    perm = derangement(4, torch.Generator().manual_seed(3))
    with torch.no_grad():
        real, fake = ldisc(f, z), ldisc(f[perm], z)
    per_position = [float(js_mi(real[:, i, j], fake[:, i, j])) for i in range(3) for j in range(3)]
    value = float(local_mi(ldisc, f, z, torch.Generator().manual_seed(3)).detach())
    assert value == pytest.approx(sum(per_position) / 9, rel=1e-5)


def test_fake_feature_map_equals_encoding_the_shuffled_images():
    """Algorithm 1 encodes the shuffled images s' into f'; shuffling f gives the same maps (BN is batch-symmetric)."""
    torch.manual_seed(0)
    enc = MIJSCCEncoder((1, 28, 28), 3, width=4)
    x = torch.rand(5, 1, 28, 28)
    perm = derangement(5, torch.Generator().manual_seed(2))
    _, f = enc(x, return_features=True)
    _, f_shuffled_images = enc(x[perm], return_features=True)
    assert torch.allclose(f[perm], f_shuffled_images, atol=1e-5)


# --- loss (eq. 18) and gradients ---------------------------------------------------------------------

def test_loss_combines_as_eq_18():
    x = torch.tensor([[0.0, 1.0], [0.5, 0.5]])
    x_hat = torch.tensor([[0.5, 1.0], [0.5, 0.0]])
    mse = (0.25 + 0.0 + 0.0 + 0.25) / 4
    g_mi, l_mi = torch.tensor(-0.8), torch.tensor(-0.3)
    total, parts = mijscc_loss(x, x_hat, g_mi, l_mi, lam=0.05, mu1=0.01, mu2=1.0)
    assert float(parts["mse"]) == pytest.approx(mse)
    assert float(parts["mi_global"]) == pytest.approx(-0.8) and float(parts["mi_local"]) == pytest.approx(-0.3)
    assert float(total) == pytest.approx(mse - 0.05 * (0.01 * -0.8 + 1.0 * -0.3))
    total0, _ = mijscc_loss(x, x_hat, g_mi, l_mi, lam=0.0)
    assert float(total0) == pytest.approx(mse)
    higher, _ = mijscc_loss(x, x_hat, g_mi, l_mi + 0.1, lam=0.05)  # more MI -> lower loss
    assert float(higher) < float(total)
    with pytest.raises(ValueError):
        mijscc_loss(x, x_hat[:1], g_mi, l_mi, lam=0.05)


def test_gradients_reach_every_network():
    torch.manual_seed(0)
    shape, k = (3, 32, 32), 6
    enc, dec = MIJSCCEncoder(shape, k, width=8), MIJSCCDecoder(shape, k, width=8)
    gdisc = GlobalDiscriminator(shape, k, width=8, hidden=16)
    ldisc = LocalDiscriminator(enc.feature_shape[0], k, hidden=16)
    x = torch.rand(4, *shape)
    z, f = enc(x, return_features=True)
    g = torch.Generator().manual_seed(0)
    total, _ = mijscc_loss(x, dec(z), global_mi(gdisc, x, z, g), local_mi(ldisc, f, z, g), lam=0.5)
    total.backward()
    for name, net in [("encoder", enc), ("decoder", dec), ("global", gdisc), ("local", ldisc)]:
        grads = [p.grad for p in net.parameters()]
        assert all(gr is not None for gr in grads), name
        assert sum(float(gr.abs().sum()) for gr in grads) > 0, name
    # the MI terms alone also reach the encoder, through z and through the feature map
    enc.zero_grad()
    z, f = enc(x, return_features=True)
    local_mi(ldisc, f, z, g).backward()
    assert float(enc.head[0].weight.grad.abs().sum()) > 0
    assert float(enc.out.weight.grad.abs().sum()) > 0


# -- the MIJSCC method: trains through the quantiser and channel, exports like every method ----------
def test_mijscc_trains_and_exports(tmp_path):
    cfg = load_config(REPO / "configs/mijscc/fmnist/mijscc.yaml", {
        "dataset": {"train_size": 512, "val_size": 128}, "model": {"width": 8},
        "loss": {"disc_hidden": 32, "lam": 1.0},
        "trainer": {"max_epochs": 1, "limit_train_batches": 3, "batch_size": 32, "progress_bar": False},
        "classifier": {"depth": 8, "max_epochs": 1}})
    run_dir = train_run(cfg, tmp_path / "run")
    run, transceiver, _ = load_run(run_dir)
    assert run["method"] == "mijscc" and transceiver.encoder_spec["arch"] == "mijscc_encoder"
    assert transceiver.q == 8
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        x_hat = transceiver(x, make_channel("awgn"), 20.0)
    assert x_hat.shape == x.shape and torch.isfinite(x_hat).all()


def test_mijscc_config_rejects_negative_weights():
    from semcom_core.runs.config import ConfigError

    with pytest.raises(ConfigError, match="loss.lam"):
        load_config(REPO / "configs/mijscc/fmnist/mijscc.yaml", {"loss": {"lam": -0.1}})
