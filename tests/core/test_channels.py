"""Channels: SNR, fading statistics, channel estimation, equalisation, gradients, seeding."""

import math

import pytest
import torch

from semcom_core.channels import (
    CHANNEL_NAMES,
    AWGNChannel,
    ChannelOutput,
    FadingChannel,
    TDLChannel,
    make_channel,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def unit_symbols(batch, k, seed=123):
    """Random unit-modulus symbols (E|s|^2 = 1 exactly)."""
    phase = 2 * math.pi * torch.rand(batch, k, generator=gen(seed))
    return torch.polar(torch.ones_like(phase), phase)


def db(x):
    return 10 * math.log10(x)


@pytest.mark.parametrize("name", CHANNEL_NAMES)
@pytest.mark.parametrize("snr_db", [0.0, 12.0])
def test_measured_snr(name, snr_db):
    # 10^5 symbols; noise power measured before equalisation with the true gain
    s = unit_symbols(100, 1000)
    out = make_channel(name).transmit(s, snr_db, generator=gen(1))
    noise = (out.y - out.h * s).abs().square().mean().item()
    assert abs(db(1.0 / noise) - snr_db) < 0.1


def test_per_sample_snr_tensor():
    s = unit_symbols(4, 25000)
    snr = torch.tensor([0.0, 5.0, 10.0, 20.0])
    out = make_channel("awgn").transmit(s, snr, generator=gen(2))
    noise = (out.y - s).abs().square().mean(dim=1)
    measured = 10 * torch.log10(1 / noise)
    assert torch.allclose(measured, snr, atol=0.1)
    assert torch.allclose(out.noise_var.squeeze(1), 10 ** (-snr / 10))


@pytest.mark.parametrize("name,shape", [("rayleigh", (40000, 1)), ("rayleigh_fast", (40, 1000))])
def test_rayleigh_gain_statistics(name, shape):
    s = unit_symbols(*shape)
    h = make_channel(name).transmit(s, 10.0, generator=gen(3)).h.expand(shape)
    power = h.abs().square()
    assert abs(power.mean().item() - 1) < 0.03
    assert abs(power.var().item() - 1) < 0.08  # |h|^2 ~ Exp(1)
    assert abs(h.mean().item()) < 0.02


def test_rician_gain_statistics():
    k_factor = 3.0
    h = make_channel("rician", k_factor=k_factor).transmit(unit_symbols(40000, 1), 10.0, generator=gen(4)).h
    power = h.abs().square()
    assert abs(power.mean().item() - 1) < 0.02
    # Var|h|^2 = (1 + 2K) / (1 + K)^2, well below the Rayleigh value 1
    assert abs(power.var().item() - (1 + 2 * k_factor) / (1 + k_factor) ** 2) < 0.03
    assert abs(h.mean().item()) < 0.02  # random LoS phase


def test_block_and_fast_fading_structure():
    s = unit_symbols(3, 20)
    h_block = make_channel("rayleigh").transmit(s, 10.0, generator=gen(5)).h
    assert h_block.shape == (3, 1)
    h_fast = FadingChannel(coherence=4).transmit(s, 10.0, generator=gen(5)).h
    assert h_fast.shape == (3, 20)
    blocks = h_fast.reshape(3, 5, 4)
    assert torch.equal(blocks, blocks[:, :, :1].expand(3, 5, 4))
    assert (blocks[:, 1:, 0] != blocks[:, :-1, 0]).all()
    h_one = make_channel("rayleigh_fast").transmit(s, 10.0, generator=gen(5)).h
    assert (h_one[:, 1:] != h_one[:, :-1]).all()


def test_tdl_gain_statistics_and_structure():
    ch = TDLChannel(model="A", delay_spread=300e-9, fft_size=64)
    h = ch.transmit(unit_symbols(400, 256), 10.0, generator=gen(6)).h
    assert h.shape == (400, 256) and h.dtype == torch.complex64
    assert abs(h.abs().square().mean().item() - 1) < 0.1
    # speed 0: the response is the same in every OFDM symbol, but varies over subcarriers
    ofdm = h.reshape(400, 4, 64)
    assert torch.allclose(ofdm, ofdm[:, :1].expand_as(ofdm), atol=1e-5)
    assert (ofdm[:, 0, 1:] - ofdm[:, 0, :-1]).abs().mean() > 0.05
    # with mobility it changes from one OFDM symbol to the next
    moving = TDLChannel(model="A", speed=300.0, fft_size=64).transmit(unit_symbols(8, 256), 10.0, generator=gen(6)).h
    moving = moving.reshape(8, 4, 64)
    assert not torch.allclose(moving[:, 0], moving[:, 3], atol=1e-3)


@pytest.mark.parametrize(
    "channel",
    [
        lambda p: make_channel("rayleigh", csi="ls", pilots=p),
        lambda p: make_channel("rayleigh_fast", csi="ls", pilots=p, coherence=8),
        lambda p: make_channel("rician", csi="ls", pilots=p),
        lambda p: make_channel("tdl", csi="ls", pilots=p, fft_size=64),
    ],
    ids=["rayleigh", "rayleigh_fast", "rician", "tdl"],
)
def test_ls_estimate_error_shrinks_with_pilots(channel):
    snr_db = 10.0
    noise_var = 10 ** (-snr_db / 10)
    s = unit_symbols(2000, 64)
    mses = []
    for pilots in (1, 4, 16):
        out = channel(pilots).transmit(s, snr_db, generator=gen(7))
        mses.append((out.h_est - out.h).abs().square().mean().item())
        assert abs(mses[-1] / (noise_var / pilots) - 1) < 0.1  # error variance N0 / pilots
    assert mses[0] > mses[1] > mses[2]


def test_ls_equalisation_uses_estimate():
    s = unit_symbols(50, 64)
    out = make_channel("rayleigh", csi="ls", pilots=2).transmit(s, 5.0, generator=gen(8))
    assert not torch.equal(out.h_est, out.h)
    assert torch.allclose(out.y_eq, out.y / out.h_est)


@pytest.mark.parametrize("name", CHANNEL_NAMES)
def test_zero_forcing_perfect_csi_recovers_symbols(name):
    s = unit_symbols(16, 200)
    y_eq = make_channel(name, csi="perfect")(s, 150.0, generator=gen(9))
    assert y_eq.dtype == torch.complex64
    assert torch.allclose(y_eq, s, atol=1e-4)


@pytest.mark.parametrize("name", CHANNEL_NAMES)
@pytest.mark.parametrize("csi", ["perfect", "ls"])
def test_gradient_flows_through_channel(name, csi):
    a = torch.randn(4, 70, generator=gen(10), requires_grad=True)
    b = torch.randn(4, 70, generator=gen(11), requires_grad=True)
    out = make_channel(name, csi=csi).transmit(torch.complex(a, b), 10.0, generator=gen(12))
    out.y_eq.real.sum().backward()
    # y_eq = (h / h_est) s + n / h_est, so d Re(y_eq) / d Re(s) = Re(h / h_est)
    ratio = (out.h / out.h_est).expand(4, 70)
    assert torch.allclose(a.grad, ratio.real, atol=1e-5)
    assert torch.allclose(b.grad, -ratio.imag, atol=1e-5)
    if csi == "perfect":
        assert torch.allclose(a.grad, torch.ones_like(a))


@pytest.mark.parametrize("name", CHANNEL_NAMES)
def test_same_seed_same_output(name):
    s = unit_symbols(4, 100)
    ch = make_channel(name, csi="ls")
    first = ch.transmit(s, 5.0, generator=gen(42))
    second = ch.transmit(s, 5.0, generator=gen(42))
    other = ch.transmit(s, 5.0, generator=gen(43))
    for field in ("y", "h", "h_est", "y_eq"):
        assert torch.equal(getattr(first, field), getattr(second, field))
    assert not torch.equal(first.y, other.y)
    # a generator given at construction works the same way
    a = make_channel(name, generator=gen(42))(s, 5.0)
    b = make_channel(name, generator=gen(42))(s, 5.0)
    assert torch.equal(a, b)


def test_tdl_with_generator_leaves_global_rng_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    make_channel("tdl").transmit(unit_symbols(2, 64), 10.0, generator=gen(1))
    assert torch.equal(torch.rand(3), expected)


def test_transmit_returns_channel_output():
    out = AWGNChannel().transmit(unit_symbols(2, 8), 10.0, generator=gen(0))
    assert isinstance(out, ChannelOutput)
    assert out.y.shape == out.y_eq.shape == (2, 8)
    assert torch.equal(out.y_eq, out.y)  # known unit gain


def test_unknown_channel_name():
    with pytest.raises(ValueError) as err:
        make_channel("rayleygh")
    for name in CHANNEL_NAMES:
        assert name in str(err.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pilots": -1},
        {"csi": "mmse"},
        {"csi": "ls", "pilots": 0},
        {"pilots": 2.5},
        {"coherence": 0},
        {"k_factor": -1.0},
        {"no_such_argument": 1},
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        make_channel("rayleigh_fast" if "coherence" in kwargs else "rician", **kwargs)


def test_bad_tdl_arguments():
    with pytest.raises(ValueError):
        make_channel("tdl", model="Z")
    with pytest.raises(ValueError):
        make_channel("tdl", fft_size=0)


@pytest.mark.parametrize("snr", [float("nan"), float("inf"), torch.tensor([1.0, float("nan")]), torch.zeros(3)])
def test_bad_snr(snr):
    with pytest.raises(ValueError):
        make_channel("awgn")(unit_symbols(2, 8), snr)


def test_real_input_rejected():
    with pytest.raises(ValueError):
        make_channel("awgn")(torch.ones(2, 8), 10.0)
