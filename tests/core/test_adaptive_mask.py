"""A-MIJSCC adaptive channel mask (eqs. 19-23, App. B)."""

import pytest
import torch

from semcom_core.models.adaptive_mask import (
    AdaptiveMask,
    AttentionEnhancement,
    NoiseEncoder,
    apply_mask,
    channel_mask,
    cumulative_mask,
    mask_end_index,
    mask_from_end_index,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def is_prefix(m: torch.Tensor) -> bool:
    binary = bool(((m == 0) | (m == 1)).all())
    return binary and bool((m[:, 1:] <= m[:, :-1]).all())


def randomize(module: torch.nn.Module, seed: int, scale: float = 3.0):
    """Arbitrary raw parameters, including negative raw values and large magnitudes."""
    g = gen(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * scale)


NOISE_GRID = torch.cat([torch.zeros(1), torch.logspace(-4, 1, 200)])  # SNR from -10 dB to 40 dB and 0


@pytest.mark.parametrize("seed", range(40))
def test_noise_encoder_monotone_and_non_negative(seed):
    torch.manual_seed(seed)
    enc = NoiseEncoder(out_dim=16, hidden=8 + seed % 5)
    if seed % 2:  # half with the default init, half with arbitrary raw parameters
        randomize(enc, seed, scale=0.05 + seed / 10)
    with torch.no_grad():
        g = enc(NOISE_GRID)
    assert g.shape == (len(NOISE_GRID), 16)
    assert (g >= 0).all() and (g <= 1).all()  # tanh of a non-negative value (1.0 after float rounding)
    diffs = g[1:] - g[:-1]
    assert (diffs >= 0).all(), f"min step {diffs.min().item()}"
    if seed % 2 == 0:  # default init: not saturated, the noise variance actually moves every feature
        assert (g[-1] > g[0] + 0.1).all()


def test_noise_encoder_accepts_b_and_b1():
    enc = NoiseEncoder(4, hidden=8)
    v = torch.tensor([0.1, 0.5, 2.0])
    assert torch.equal(enc(v), enc(v.unsqueeze(1)))


@pytest.mark.parametrize("bad", [torch.zeros(3, 2), torch.zeros(2, 1, 1), torch.zeros(())])
def test_noise_encoder_bad_shapes(bad):
    with pytest.raises(ValueError):
        NoiseEncoder(4)(bad)


def test_noise_encoder_rejects_negative_variance():
    with pytest.raises(ValueError):
        NoiseEncoder(4)(torch.tensor([0.1, -0.2]))


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_noise_encoder_bad_sizes(bad):
    with pytest.raises(ValueError):
        NoiseEncoder(bad)


def test_cumulative_mask_is_suffix_sum_through_u():
    g = torch.tensor([[1.0, 2.0, 3.0, 4.0], [0.0, 0.5, 0.0, 0.25]])
    expected = torch.tensor([[10.0, 9.0, 7.0, 4.0], [0.75, 0.75, 0.25, 0.25]])
    assert torch.allclose(cumulative_mask(g), expected)


def test_cumulative_mask_non_increasing_for_non_negative_scores():
    g = torch.rand(64, 33, generator=gen(1)) * torch.rand(64, 1, generator=gen(2)) * 5
    gt = cumulative_mask(g)
    assert (gt[:, 1:] <= gt[:, :-1] + 1e-5).all()


@pytest.mark.parametrize("seed", range(20))
def test_channel_mask_always_prefix(seed):
    g = gen(seed)
    # arbitrary signs too: the hard mask must still be ones-then-zeros
    scores = torch.randn(32, 1 + seed * 3, generator=g) * 2 + (seed % 3 - 1)
    eta = float(torch.randn(1, generator=g) * 3)
    for gt in (cumulative_mask(scores), cumulative_mask(scores.abs()), scores):
        m = channel_mask(gt, eta)
        assert is_prefix(m)


def test_channel_mask_matches_eq21_on_non_increasing_scores():
    gt = cumulative_mask(torch.rand(50, 20, generator=gen(3)))
    eta = 4.0
    assert torch.equal(channel_mask(gt, eta), (gt > eta).float())


def test_soft_mask_in_unit_interval_and_close_to_hard_at_low_temperature():
    gt = cumulative_mask(torch.rand(10, 12, generator=gen(4)))
    soft = channel_mask(gt, 2.0, temperature=1.0, hard=False)
    assert ((soft > 0) & (soft < 1)).all()
    sharp = channel_mask(gt, 2.0, temperature=1e-4, hard=False)
    far = (gt - 2.0).abs() > 1e-2
    assert torch.allclose(sharp[far], (gt > 2.0).float()[far])


@pytest.mark.parametrize("seed", range(10))
def test_end_index_round_trip(seed):
    d = 1 + 7 * seed
    end = torch.randint(0, d + 1, (25,), generator=gen(seed))
    m = mask_from_end_index(end, d)
    assert m.shape == (25, d) and is_prefix(m)
    assert torch.equal(mask_end_index(m), end)
    m2 = channel_mask(cumulative_mask(torch.rand(25, d, generator=gen(seed))), 1.5)
    assert torch.equal(mask_from_end_index(mask_end_index(m2), d), m2)


def test_end_index_rejects_non_prefix_and_non_binary():
    with pytest.raises(ValueError):
        mask_end_index(torch.tensor([[1.0, 0.0, 1.0]]))
    with pytest.raises(ValueError):
        mask_end_index(torch.tensor([[1.0, 0.5, 0.0]]))
    with pytest.raises(ValueError):
        mask_end_index(torch.ones(4))


@pytest.mark.parametrize("end,dim", [(torch.tensor([5]), 4), (torch.tensor([-1]), 4),
                                     (torch.tensor([[1]]), 4), (torch.tensor([1.0]), 4),
                                     (torch.tensor([1]), 0)])
def test_mask_from_end_index_bad_inputs(end, dim):
    with pytest.raises(ValueError):
        mask_from_end_index(end, dim)


def test_receiver_zero_fill_recovers_masked_z():
    z = torch.randn(6, 10, generator=gen(5))
    m = channel_mask(cumulative_mask(torch.rand(6, 10, generator=gen(6))), 3.0)
    sent = apply_mask(z, m)
    end = mask_end_index(m)
    # receiver: gets only the first end[b] values of each row and zero-fills the rest
    received = torch.zeros(6, 10)
    for b in range(6):
        received[b, : end[b]] = sent[b, : end[b]]
    assert torch.equal(received * mask_from_end_index(end, 10), sent)
    assert torch.equal(received, sent)


@pytest.mark.parametrize("seed", range(8))
def test_adaptive_mask_gamma_and_prefix(seed):
    torch.manual_seed(seed)
    d = 24
    am = AdaptiveMask(d, eta=float(1 + seed), hidden=16)
    if seed % 2:
        randomize(am.noise_encoder, seed, scale=1.0)
    z = torch.randn(40, d, generator=gen(seed))
    nv = torch.logspace(-3, 1, 40)
    out = am(z, nv)
    m = am.mask(nv)
    assert is_prefix(m)
    assert out.z.shape == z.shape
    assert out.end.dtype == torch.int64 and out.end.shape == (40,)
    assert ((out.gamma >= 0) & (out.gamma <= 1)).all()
    assert torch.allclose(out.gamma, m.mean(dim=1))
    assert torch.equal(out.end, m.sum(dim=1).long())
    # masked dims are exactly zero after attention too, active dims unchanged by the mask
    assert (out.z[m == 0] == 0).all()
    # monotone in the noise variance (nv is increasing): never fewer active dims with more noise
    assert (out.end[1:] >= out.end[:-1]).all()


def test_more_noise_more_dimensions_by_construction():
    """All weights 1/fan_in and zero bias: every g_j = f(delta^2) with f(0) = 0, f strictly increasing.

    Then g~_j = (D - j) f(delta^2) and the active count is #{j : (D - j) f > eta}: zero at delta^2 = 0,
    strictly more dims for a clearly noisier channel, i.e. a good channel (low noise) gives smaller gamma.
    """
    d = 64
    am = AdaptiveMask(d, eta=0.5, hidden=8, attention=False)
    with torch.no_grad():
        for layer in am.noise_encoder.layers:
            layer.raw_weight.fill_(1.0 / layer.raw_weight.shape[1])
            layer.raw_bias.zero_()
    nv = torch.tensor([0.0, 0.02, 0.05, 0.1, 0.3, 1.0])
    z = torch.ones(len(nv), d)
    out = am(z, nv)
    with torch.no_grad():
        f = am.noise_encoder(nv)[:, 0]
    expected = torch.tensor([int(((d - torch.arange(d)) * fi > 0.5).sum()) for fi in f])
    assert torch.equal(out.end, expected)
    assert out.end[0] == 0 and out.gamma[0] == 0
    assert (out.end[1:] > out.end[:-1]).all(), out.end.tolist()
    assert torch.equal(out.z, mask_from_end_index(out.end, d))


def test_higher_eta_prunes_more():
    torch.manual_seed(0)
    am = AdaptiveMask(20, eta=1.0, hidden=8)
    nv = torch.logspace(-2, 0, 16)
    z = torch.randn(16, 20, generator=gen(7))
    ends = []
    for eta in (0.5, 1.0, 2.0, 4.0):
        am.eta = eta
        ends.append(am(z, nv).end)
    for lo, hi in zip(ends[:-1], ends[1:]):
        assert (hi <= lo).all()
    assert (ends[-1] < ends[0]).any()


def test_gradients_reach_noise_encoder_and_z():
    torch.manual_seed(0)
    d = 16
    am = AdaptiveMask(d, eta=1.0, hidden=8, temperature=1.0)
    z = torch.randn(8, d, generator=gen(8), requires_grad=True)
    nv = torch.linspace(0.3, 1.0, 8)
    out = am(z, nv)
    assert (out.end > 0).all() and (out.end < d).all()  # the threshold falls inside: relaxation matters
    (out.z * torch.randn(8, d, generator=gen(9))).sum().backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()
    assert (z.grad[mask_from_end_index(out.end, d) == 1] != 0).all()
    assert (z.grad[mask_from_end_index(out.end, d) == 0] == 0).all()
    for p in am.noise_encoder.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    for p in am.attention.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all()
    assert am.attention.fc2.weight.grad.abs().sum() > 0


def test_attention_starts_as_identity_and_keeps_zeros():
    att = AttentionEnhancement(10)
    zm = torch.randn(5, 10, generator=gen(10))
    zm[:, 6:] = 0
    assert torch.equal(att(zm), zm)
    randomize(att, 11, scale=0.3)
    w = att.weights(zm)
    assert ((w > 0) & (w < 2)).all() and (w > 1).any() and (w < 1).any()
    out = att(zm)
    assert (out[:, 6:] == 0).all() and not torch.equal(out, zm)
    with pytest.raises(ValueError):
        att(torch.zeros(5, 9))


def test_adaptive_mask_scalar_noise_and_bad_shapes():
    am = AdaptiveMask(12, eta=1.0, hidden=8)
    z = torch.randn(3, 12, generator=gen(12))
    out = am(z, 0.5)
    assert out.end.shape == (3,) and (out.end == out.end[0]).all()
    with pytest.raises(ValueError):
        am(torch.zeros(3, 11), 0.5)
    with pytest.raises(ValueError):
        am(torch.zeros(3, 12, 1), 0.5)
    with pytest.raises(ValueError):
        am(z, torch.ones(4))
    with pytest.raises(ValueError):
        am(z, torch.ones(3, 2))
    with pytest.raises(ValueError):
        cumulative_mask(torch.zeros(5))
    with pytest.raises(ValueError):
        channel_mask(torch.zeros(2, 3), 0.0, temperature=0.0)
    with pytest.raises(ValueError):
        apply_mask(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError):
        AdaptiveMask(0, eta=1.0)
