"""Symbols: power normalisation, packing, quantiser, constellation, codec."""

import math

import pytest
import torch

from semcom_core.channels import make_channel
from semcom_core.symbols import (
    AsymmetricQuantizer,
    SideInfo,
    SquareConstellation,
    SymbolCodec,
    complex_to_real,
    dequantize,
    normalize_power,
    quantize,
    real_to_complex,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_normalize_power_unit_average_per_row():
    scales = torch.tensor([1e-3, 1.0, 7.0, 1e3]).reshape(4, 1)
    s = torch.randn(4, 100, dtype=torch.complex64, generator=gen()) * scales
    out = normalize_power(s)
    assert torch.allclose(out.abs().square().mean(dim=1), torch.ones(4), atol=1e-5)
    # only a per-row scale: directions unchanged
    assert torch.allclose(out / out.abs().amax(1, keepdim=True), s / s.abs().amax(1, keepdim=True), atol=1e-5)


def test_normalize_power_zero_row_stays_finite():
    s = torch.zeros(2, 10, dtype=torch.complex64)
    s[1] = 3
    out = normalize_power(s)
    assert torch.isfinite(torch.view_as_real(out)).all()
    assert torch.equal(out[0], s[0])
    assert torch.allclose(out[1].abs(), torch.ones(10))


def test_real_complex_pairing_convention():
    z = torch.arange(8, dtype=torch.float32).reshape(2, 4)
    s = real_to_complex(z)
    assert s.dtype == torch.complex64 and s.shape == (2, 2)
    assert s[0, 0] == complex(0, 1) and s[0, 1] == complex(2, 3) and s[1, 1] == complex(6, 7)
    assert torch.equal(complex_to_real(s), z)
    with pytest.raises(ValueError):
        real_to_complex(torch.zeros(2, 5))


def test_real_to_complex_is_differentiable():
    z = torch.randn(3, 6, generator=gen(), requires_grad=True)
    normalize_power(real_to_complex(z)).real.sum().backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


@pytest.mark.parametrize("q", range(1, 9))
def test_quantizer_round_trip_and_level_count(q):
    # dense rows with different ranges, shuffled
    base = torch.linspace(0, 1, 5000)
    z = torch.stack([base * 8 - 3, base * 0.01 + 2, base * 100 - 50])
    z = z[:, torch.randperm(5000, generator=gen(q))]
    levels, z_min, z_max = quantize(z, q)
    assert levels.dtype == torch.int64 and levels.shape == z.shape
    assert torch.equal(z_min, z.min(1).values) and torch.equal(z_max, z.max(1).values)
    for row in levels:
        assert row.unique().numel() == 2**q
    assert levels.min() == 0 and levels.max() == 2**q - 1
    z_hat = dequantize(levels, z_min, z_max, q)
    step = ((z_max - z_min) / (2**q - 1)).unsqueeze(1)
    assert ((z_hat - z).abs() <= step / 2 * (1 + 1e-4) + 1e-6).all()
    # the error really is of the order of the step (the check above is not vacuous)
    assert ((z_hat - z).abs() > step / 4).any()


def test_quantizer_constant_row():
    z = torch.full((2, 10), 0.7)
    levels, z_min, z_max = quantize(z, 4)
    assert torch.equal(levels, torch.zeros_like(levels))
    assert torch.equal(dequantize(levels, z_min, z_max, 4), z)


@pytest.mark.parametrize("q", [0, 17, 2.0, True, None])
def test_quantizer_rejects_bad_bits(q):
    with pytest.raises(ValueError):
        quantize(torch.randn(2, 4), q)
    with pytest.raises(ValueError):
        AsymmetricQuantizer(q)


def test_ste_gradient_is_identity():
    z = torch.randn(4, 32, generator=gen(), requires_grad=True)
    w = torch.randn(4, 32, generator=gen(1))
    out = AsymmetricQuantizer(3)(z)
    levels, z_min, z_max = quantize(z, 3)
    assert torch.allclose(out, dequantize(levels, z_min, z_max, 3), atol=1e-6)
    assert not torch.allclose(out, z)
    (out * w).sum().backward()
    assert torch.equal(z.grad, w)


@pytest.mark.parametrize("q", range(1, 9))
def test_constellation_unit_power_and_round_trip(q):
    c = SquareConstellation(q)
    m = 2**q
    grid = torch.cartesian_prod(torch.arange(m), torch.arange(m)).reshape(1, -1)  # every level pair once
    x = c.map(grid)
    assert x.dtype == torch.complex64 and x.shape == (1, m * m)
    assert abs(x.abs().square().mean().item() - 1) < 1e-5
    assert torch.view_as_real(x).reshape(-1, 2).unique(dim=0).shape[0] == m * m
    assert torch.equal(c.demap(x), grid)
    assert torch.allclose(c.soft_demap(x), grid.float(), atol=1e-3)


@pytest.mark.parametrize("q", [1, 2, 4, 6])
def test_constellation_demap_under_small_noise(q):
    c = SquareConstellation(q)
    levels = torch.randint(0, 2**q, (64, 200), generator=gen(q))
    x = c.map(levels)
    half_distance = 1 / c.norm  # points are 2 / norm apart on each axis
    noise = (torch.rand(64, 100, 2, generator=gen(1)) * 2 - 1) * 0.95 * half_distance
    assert torch.equal(c.demap(x + torch.view_as_complex(noise)), levels)
    # beyond half the distance, decisions move to the neighbouring level only
    shifted = c.demap(x + 1.2 * half_distance)
    assert ((shifted - levels).abs() <= 1).all() and (shifted != levels).any()


def test_qpsk_points_and_range_checks():
    c = SquareConstellation(1)
    x = c.map(torch.tensor([[0, 0, 1, 1, 0, 1]]))
    r = 1 / math.sqrt(2)
    assert torch.allclose(x, torch.tensor([[complex(-r, -r), complex(r, r), complex(-r, r)]]))
    with pytest.raises(ValueError):
        c.map(torch.tensor([[0, 2]]))
    with pytest.raises(ValueError):
        c.map(torch.tensor([[0, 1, 1]]))


def test_codec_analog_round_trip():
    codec = SymbolCodec()
    z = torch.randn(5, 32, generator=gen()) * 3
    s, side = codec.to_symbols(z)
    assert side.q == 0 and side.end.tolist() == [16] * 5 and s.shape == (5, 16) and s.dtype == torch.complex64
    assert torch.allclose(s.abs().square().mean(1), torch.ones(5), atol=1e-5)
    z_hat = codec.from_symbols(s, side)
    expected = z * math.sqrt(16) / z.norm(dim=1, keepdim=True)
    assert torch.allclose(z_hat, expected, atol=1e-5)
    assert codec.bits_per_symbol is None


@pytest.mark.parametrize("q", [1, 4, 8])
def test_codec_quantised_round_trip(q):
    codec = SymbolCodec(q)
    z = torch.randn(6, 400, generator=gen(q)) * torch.linspace(0.1, 10, 6).reshape(6, 1)
    s, side = codec.to_symbols(z)
    assert side.q == q and side.z_min.shape == (6,) and side.z_max.shape == (6,) and side.end.tolist() == [200] * 6
    assert s.shape == (6, 200)
    step = ((side.z_max - side.z_min) / (2**q - 1)).unsqueeze(1)
    z_hat = codec.from_symbols(s, side)
    assert ((z_hat - z).abs() <= step / 2 * (1 + 1e-4) + 1e-6).all()
    assert torch.allclose(z_hat, dequantize(*quantize(z, q), q), atol=1e-5)
    # through a clean channel the decisions are unchanged
    y = make_channel("rayleigh")(s, 80.0, generator=gen())
    assert torch.equal(codec.from_symbols(y, side), z_hat)
    assert codec.bits_per_symbol == 2 * q


def test_codec_quantised_is_differentiable():
    codec = SymbolCodec(4)
    z = torch.randn(3, 64, generator=gen(), requires_grad=True)
    s, side = codec.to_symbols(z)
    z_hat = codec.from_symbols(make_channel("awgn")(s, 30.0, generator=gen(1)), side)
    z_hat.sum().backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


@pytest.mark.parametrize("q", [None, 4])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_codec_rejects_non_finite(q, bad):
    codec = SymbolCodec(q)
    z = torch.randn(2, 8, generator=gen())
    s, side = codec.to_symbols(z)
    z[1, 3] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        codec.to_symbols(z)
    y = s.clone()
    y[0, 1] = complex(bad, 0)
    with pytest.raises(ValueError, match="NaN or infinite"):
        codec.from_symbols(y, side)


def test_codec_needs_side_information_and_right_shapes():
    codec = SymbolCodec(2)
    s, side = codec.to_symbols(torch.randn(2, 8, generator=gen()))
    with pytest.raises(ValueError, match="needs side information"):
        codec.from_symbols(s, None)
    with pytest.raises(ValueError, match="q=0"):
        codec.from_symbols(s, SideInfo(0, side.end))
    with pytest.raises(ValueError, match="shape"):
        codec.from_symbols(s, SideInfo(2, side.end, side.z_min[:1], side.z_max[:1]))
    with pytest.raises(ValueError):
        codec.to_symbols(torch.randn(2, 7))
    with pytest.raises(ValueError):
        codec.from_symbols(torch.randn(2, 4), side)
