"""Pre-training losses (eq. 7-14, 18, 19) against direct computations written from the equations."""

from __future__ import annotations

import math

import pytest
import torch

from semcom_core.losses.correlation import (barlow_twins_loss, barlow_twins_per_modality, cross_correlation,
                                            cross_modal_loss, decoupled_loss, simclr_per_modality)


def direct_correlation(a, b, center=True):
    """Eq. 8 / 11 with explicit sums over the batch (after centring when asked)."""
    if center:
        a, b = a - a.mean(0), b - b.mean(0)
    c = torch.zeros(a.shape[1], b.shape[1], dtype=torch.float64)
    for i in range(a.shape[1]):
        for j in range(b.shape[1]):
            num = sum(a[n, i] * b[n, j] for n in range(a.shape[0]))
            den = math.sqrt(sum(a[n, i] ** 2 for n in range(a.shape[0]))) * \
                math.sqrt(sum(b[n, j] ** 2 for n in range(b.shape[0])))
            c[i, j] = num / den
    return c


def direct_barlow(c, lam):
    k = c.shape[0]
    return sum((1 - c[i, i]) ** 2 for i in range(k)) + lam * sum(c[i, j] ** 2 for i in range(k) for j in range(k) if i != j)


def direct_unique(c, lam):
    k = c.shape[0]
    return sum(c[i, i] ** 2 for i in range(k)) + lam * sum(c[i, j] ** 2 for i in range(k) for j in range(k) if i != j)


@pytest.fixture
def feats():
    g = torch.Generator().manual_seed(3)
    return [torch.randn(9, 6, generator=g, dtype=torch.float64) for _ in range(6)]


@pytest.mark.parametrize("center", [True, False])
def test_correlation_matches_the_equation_and_is_normalised(feats, center):
    a, b = feats[0], feats[1] + 0.5
    c = cross_correlation(a, b, center=center)
    assert torch.allclose(c, direct_correlation(a, b, center), atol=1e-6)
    assert c.abs().max() <= 1 + 1e-6
    same = cross_correlation(a, a.clone(), center=center)
    assert torch.allclose(torch.diagonal(same), torch.ones(6, dtype=torch.float64), atol=1e-6)


def test_centred_correlation_ignores_offsets_and_scales(feats):
    a, b = feats[0], feats[1]
    assert torch.allclose(cross_correlation(a, b), cross_correlation(3 * a + 7, 0.2 * b - 1), atol=1e-6)
    assert not torch.allclose(cross_correlation(a, b, center=False), cross_correlation(a + 7, b, center=False))


def test_barlow_twins_eq_19(feats):
    c = cross_correlation(feats[0], feats[1])
    assert float(barlow_twins_loss(c, 0.05)) == pytest.approx(float(direct_barlow(c, 0.05)), rel=1e-9)
    loss, _ = barlow_twins_per_modality([(feats[0], feats[1]), (feats[2], feats[3])], 0.05)
    expected = direct_barlow(direct_correlation(feats[0], feats[1]), 0.05) + \
        direct_barlow(direct_correlation(feats[2], feats[3]), 0.05)
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)


def test_cross_modal_loss_splits_shared_and_unique_blocks(feats):
    c = cross_correlation(feats[0], feats[1])
    k_sha = 4
    expected = direct_barlow(c[:k_sha, :k_sha], 0.1) + direct_unique(c[k_sha:, k_sha:], 0.2)
    assert float(cross_modal_loss(c, k_sha, 0.1, 0.2)) == pytest.approx(float(expected), rel=1e-9)
    # the off-diagonal blocks (shared x unique) are not part of eq. 13-14
    c2 = c.clone()
    c2[:k_sha, k_sha:] = 0.9
    assert float(cross_modal_loss(c2, k_sha, 0.1, 0.2)) == pytest.approx(float(expected), rel=1e-9)


def test_with_all_dimensions_shared_the_cross_loss_is_the_shared_form(feats):
    c = cross_correlation(feats[0], feats[1])
    assert float(cross_modal_loss(c, 6, 0.1, 123.0)) == pytest.approx(float(barlow_twins_loss(c, 0.1)), rel=1e-12)
    with pytest.raises(ValueError, match="k_shared"):
        cross_modal_loss(c, 0, 0.1, 0.1)


def test_decoupled_loss_is_intra_plus_cross_over_ordered_pairs(feats):
    views = [(feats[0], feats[1]), (feats[2], feats[3]), (feats[4], feats[5])]   # M = 3 modalities
    loss, parts = decoupled_loss(views, k_shared=2, lam_intra=0.01, lam_shared=0.02, lam_unique=0.03)
    intra = sum(direct_barlow(direct_correlation(z, za), 0.01) for z, za in views)
    cross = 0.0
    for m in range(3):
        for n in range(3):
            if m != n:
                c = direct_correlation(views[m][0], views[n][0])
                cross += direct_barlow(c[:2, :2], 0.02) + direct_unique(c[2:, 2:], 0.03)
    assert float(parts["intra"]) == pytest.approx(float(intra), rel=1e-6)
    assert float(parts["cross"]) == pytest.approx(float(cross), rel=1e-6)
    assert float(loss) == pytest.approx(float(intra + cross), rel=1e-6)


def test_simclr_eq_18(feats):
    z, za, tau = feats[0], feats[1], 0.3
    loss, _ = simclr_per_modality([(z, za)], tau)
    views = torch.nn.functional.normalize(torch.cat([z, za]), dim=1)
    n = len(views)
    total = 0.0
    for i in range(n):
        j = (i + n // 2) % n
        sim = lambda a, b: float(views[a] @ views[b]) / tau  # noqa: E731
        total += -math.log(math.exp(sim(i, j)) / sum(math.exp(sim(i, k)) for k in range(n) if k != i))
    assert float(loss) == pytest.approx(total / n, rel=1e-6)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="same B"):
        cross_correlation(torch.randn(4, 3), torch.randn(5, 3))
    with pytest.raises(ValueError, match="at least 2"):
        cross_correlation(torch.randn(1, 3), torch.randn(1, 3))
