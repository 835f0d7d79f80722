"""Sample-level TDL channel: stream continuity, power, delay spread, block fading, seeding, arguments."""

import numpy as np
import pytest
import torch

from semcom_core.channels import TDL_MODELS, TDLSampleChannel


def noise(n, seed=0):
    rng = np.random.default_rng(seed)
    return ((rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)).astype(np.complex64)


def chunked(ch, x, sizes):
    """``ch.apply`` over consecutive chunks of the given sizes (the rest in one last chunk)."""
    out, i = [], 0
    for size in sizes:
        out.append(ch.apply(x[i:i + size]))
        i += size
    out.append(ch.apply(x[i:]))
    return np.concatenate(out)


def draws(n, **kwargs):
    """Taps of ``n`` independent realisations (block_len=1: one per sample)."""
    ch = TDLSampleChannel(block_len=1, **kwargs)
    taps = []
    for _ in range(n):
        taps.append(ch.taps())
        ch.apply(np.zeros(1, np.complex64))
    return np.array(taps)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"block_len": 0},
        {"block_len": 500},
        {"block_len": 64, "model": "D", "sample_rate": 20e6, "delay_spread": 300e-9},
        {"block_len": 3000, "speed": 100.0},
    ],
    ids=["static", "block", "short-blocks", "doppler"],
)
def test_output_does_not_depend_on_chunking(kwargs):
    x = noise(20_000)
    whole = TDLSampleChannel(seed=5, **kwargs).apply(x)
    assert whole.dtype == np.complex64 and whole.shape == x.shape
    rng = np.random.default_rng(1)
    for sizes in ([1, 0, 2, 13, 499, 500, 501, 7], list(rng.integers(0, 900, 40)), [1] * 300):
        parts = chunked(TDLSampleChannel(seed=5, **kwargs), x, sizes)
        assert np.array_equal(parts, whole), f"chunks {sizes[:8]}..."


def test_output_is_the_convolution_with_the_taps():
    ch = TDLSampleChannel(model="C", delay_spread=300e-9, sample_rate=10e6, block_len=0, seed=2)
    h = ch.taps()
    assert h.shape == (ch.num_taps,) and ch.delay == 6
    impulse = np.zeros(ch.num_taps + 10, np.complex64)
    impulse[0] = 1
    resp = ch.apply(impulse)
    np.testing.assert_allclose(resp[: ch.num_taps], h, atol=1e-7)
    assert np.all(resp[ch.num_taps:] == 0)
    x = noise(3000, seed=3)
    np.testing.assert_allclose(ch.apply(x), np.convolve(x, h)[: x.size], atol=1e-5)


def test_taps_are_redrawn_every_block():
    ch = TDLSampleChannel(block_len=100, seed=4)
    first = ch.taps()
    ch.apply(noise(99))
    assert np.array_equal(ch.taps(), first)  # still inside the first block
    ch.apply(noise(1))
    second = ch.taps()
    assert not np.allclose(second, first)
    static = TDLSampleChannel(block_len=0, seed=4)
    h = static.taps()
    static.apply(noise(10_000))
    assert np.array_equal(static.taps(), h)


def test_doppler_changes_taps_smoothly_within_a_block():
    ch = TDLSampleChannel(speed=30.0, carrier_frequency=3.5e9, block_len=20_000, seed=6)
    taps = []
    for _ in range(400):
        taps.append(ch.taps())
        ch.apply(np.zeros(50, np.complex64))
    taps = np.array(taps)
    # maximum Doppler 350 Hz: over 20 ms (7 periods) the taps decorrelate ...
    assert np.abs(taps[-1] - taps[0]).max() > 0.1 * np.abs(taps).max()
    # ... but move little from one 50-sample step (1/57 of a period) to the next
    assert np.abs(np.diff(taps, axis=0)).max() < 0.25 * np.abs(taps).max()
    still = TDLSampleChannel(speed=0.0, block_len=20_000, seed=6)
    h = still.taps()
    still.apply(np.zeros(19_999, np.complex64))
    assert np.array_equal(still.taps(), h)


@pytest.mark.parametrize("model", ["A", "D"])
def test_average_power_gain_is_one(model):
    h = draws(3000, model=model, sample_rate=4e6, seed=7)
    energy = np.sum(np.abs(h) ** 2, axis=1)
    # std of the mean: about 1/sqrt(3000) = 0.018 (Rayleigh) or less (D has a LoS path)
    assert abs(energy.mean() - 1) < 0.08
    assert energy.std() > 0.1  # it fades
    # the same seen on a signal: average output power = input power
    x = noise(200_000, seed=8)
    y = TDLSampleChannel(model=model, sample_rate=4e6, block_len=200, seed=9).apply(x)
    assert abs(np.mean(np.abs(y) ** 2) / np.mean(np.abs(x) ** 2) - 1) < 0.1


def test_longer_delay_spread_gives_more_significant_taps():
    def profile(delay_spread):
        return np.mean(np.abs(draws(400, delay_spread=delay_spread, sample_rate=10e6, seed=10)) ** 2, axis=0)

    short, long = profile(30e-9), profile(300e-9)
    significant = [int(np.sum(p > 0.01 * p.sum())) for p in (short, long)]
    assert significant[1] >= significant[0] + 4, significant

    def rms_delay(p):
        lags = np.arange(p.size)
        mean = np.sum(lags * p) / p.sum()
        return np.sqrt(np.sum((lags - mean) ** 2 * p) / p.sum())

    assert rms_delay(long) > 2 * rms_delay(short)


def test_seed_reproduces_and_another_seed_differs():
    x = noise(10_000)
    a = TDLSampleChannel(seed=11, block_len=1000).apply(x)
    b = TDLSampleChannel(seed=11, block_len=1000).apply(x)
    c = TDLSampleChannel(seed=12, block_len=1000).apply(x)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c, atol=1e-3)
    ch = TDLSampleChannel(seed=11, block_len=1000)
    ch.apply(noise(5000, seed=1))
    ch.reset()
    assert np.array_equal(ch.apply(x), a)


def test_global_random_state_is_left_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    TDLSampleChannel(block_len=10).apply(noise(100))
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"model": "Z"}, "model"),
        ({"model": "a"}, "model"),
        ({"delay_spread": 0.0}, "delay_spread"),
        ({"delay_spread": float("nan")}, "delay_spread"),
        ({"sample_rate": -1e6}, "sample_rate"),
        ({"sample_rate": "fast"}, "sample_rate"),
        ({"carrier_frequency": float("inf")}, "carrier_frequency"),
        ({"speed": -1.0}, "speed"),
        ({"block_len": -1}, "block_len"),
        ({"block_len": 10.5}, "block_len"),
        ({"block_len": True}, "block_len"),
        ({"seed": -3}, "seed"),
        ({"speed": 10.0, "block_len": 0}, "block_len"),
    ],
)
def test_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        TDLSampleChannel(**kwargs)


def test_bad_samples_shape():
    with pytest.raises(ValueError, match="1-D"):
        TDLSampleChannel().apply(np.zeros((2, 3), np.complex64))


def test_all_models_run():
    for model in TDL_MODELS:
        y = TDLSampleChannel(model=model, block_len=50).apply(noise(200))
        assert np.isfinite(y).all() and np.any(y != 0)
