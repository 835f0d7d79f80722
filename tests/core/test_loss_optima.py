"""Every pre-training and task loss at its known optimum, on hand-computed tiny inputs, and with gradients
that match finite differences (torch.autograd.gradcheck, float64)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from semcom_core.losses.contrastive import info_nce
from semcom_core.losses.correlation import (barlow_twins_loss, cross_correlation, cross_modal_loss, decoupled_loss,
                                            simclr_per_modality, unique_loss)
from semcom_core.losses.multitask import task_loss


def whitened(n: int, k: int, seed: int) -> torch.Tensor:
    """[n, k] features whose batch-centred columns are orthonormal (a whitened batch)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, k, generator=g, dtype=torch.float64)
    x = x - x.mean(0)
    q, _ = torch.linalg.qr(x)
    return q * math.sqrt(n)


def test_hand_computed_correlation_and_barlow_twins():
    a = torch.tensor([[1.0], [2.0], [3.0]], dtype=torch.float64)
    b = torch.tensor([[1.0], [3.0], [2.0]], dtype=torch.float64)
    # centred: a = (-1, 0, 1), b = (-1, 1, 0): C = 1 / (sqrt 2 sqrt 2) = 0.5
    c = cross_correlation(a, b)
    assert float(c) == pytest.approx(0.5, abs=1e-7)
    assert float(barlow_twins_loss(c, 0.1)) == pytest.approx(0.25, abs=1e-7)
    m = torch.tensor([[0.5, 0.2], [0.1, 0.9]], dtype=torch.float64)
    assert float(barlow_twins_loss(m, 0.1)) == pytest.approx(0.5**2 + 0.1**2 + 0.1 * (0.2**2 + 0.1**2))
    assert float(unique_loss(m, 0.1)) == pytest.approx(0.5**2 + 0.9**2 + 0.1 * (0.2**2 + 0.1**2))


def test_barlow_twins_is_zero_for_identical_whitened_views_and_positive_otherwise():
    z = whitened(32, 8, 0)
    assert torch.allclose(cross_correlation(z, z.clone()), torch.eye(8, dtype=torch.float64), atol=1e-6)
    assert float(barlow_twins_loss(cross_correlation(z, z.clone()), 0.005)) == pytest.approx(0.0, abs=1e-10)
    collapsed = z[:, :1].repeat(1, 8)        # every dimension the same feature: redundancy is penalised
    assert float(barlow_twins_loss(cross_correlation(collapsed, collapsed), 0.005)) > 0.1


def test_decoupled_loss_is_zero_at_its_optimum():
    """Views of one modality identical and whitened; across modalities the shared block identical, the unique
    block uncorrelated: intra, shared and unique terms all vanish."""
    basis = whitened(64, 12, 1)
    shared, unique_rgb, unique_depth = basis[:, :4], basis[:, 4:8], basis[:, 8:12]
    rgb, depth = torch.cat([shared, unique_rgb], 1), torch.cat([shared, unique_depth], 1)
    loss, parts = decoupled_loss([(rgb, rgb.clone()), (depth, depth.clone())], k_shared=4, lam_intra=0.005,
                                 lam_shared=0.005, lam_unique=0.005)
    assert float(parts["intra"]) == pytest.approx(0.0, abs=1e-9)
    assert float(parts["cross"]) == pytest.approx(0.0, abs=1e-9)
    # the same unique dimensions in both modalities are what eq. 14 forbids
    same_unique = torch.cat([shared, unique_rgb], 1)
    loss, _ = decoupled_loss([(rgb, rgb.clone()), (same_unique, same_unique.clone())], 4, 0.005, 0.005, 0.005)
    assert float(loss) == pytest.approx(2 * 4.0, abs=1e-6)   # C_ii = 1 on 4 unique dims, both orders


def test_info_nce_optimum_and_hand_value():
    # two pairs on the unit circle: views 0/2 at angle 0, views 1/3 at 90 degrees
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    tau = 0.5
    # each anchor: positive logit 1/tau, two negatives at logit 0 -> -log(e^2 / (e^2 + 2))
    assert float(info_nce(q, tau)) == pytest.approx(-math.log(math.e**2 / (math.e**2 + 2)), rel=1e-9)
    # the bound: as tau shrinks with orthogonal negatives, the loss goes to 0
    assert float(info_nce(q, 0.01)) < 1e-40 + 1e-12
    loss, _ = simclr_per_modality([(q[:2], q[2:])], tau)
    assert float(loss) == pytest.approx(float(info_nce(q, tau)), rel=1e-12)


@pytest.mark.parametrize("name", ["barlow", "cross_modal", "decoupled", "info_nce", "simclr"])
def test_gradients_match_finite_differences(name):
    g = torch.Generator().manual_seed(7)
    a = torch.randn(10, 6, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(10, 6, generator=g, dtype=torch.float64, requires_grad=True)
    fns = {
        "barlow": lambda x, y: barlow_twins_loss(cross_correlation(x, y), 0.05),
        "cross_modal": lambda x, y: cross_modal_loss(cross_correlation(x, y), 4, 0.05, 0.1),
        "decoupled": lambda x, y: decoupled_loss([(x, y), (y * 2 + x, x - y)], 3, 0.05, 0.05, 0.05)[0],
        "info_nce": lambda x, y: info_nce(F.normalize(torch.cat([x, y]), dim=1), 0.2),
        "simclr": lambda x, y: simclr_per_modality([(x, y)], 0.2)[0],
    }
    assert torch.autograd.gradcheck(fns[name], (a, b), eps=1e-6, atol=1e-5)


def test_ctc_hand_computed():
    """Two frames, target "a" (id 1): the paths a-a, a-blank, blank-a; -log of their summed probability."""
    p = torch.tensor([[[0.6, 0.3, 0.1], [0.5, 0.4, 0.1]]], dtype=torch.float64)   # [B=1, T=2, C=3], blank 0
    paths = p[0, 0, 1] * p[0, 1, 1] + p[0, 0, 1] * p[0, 1, 0] + p[0, 0, 0] * p[0, 1, 1]
    loss = task_loss("ctc", p.log(), {"target": torch.tensor([[1]]), "target_len": torch.tensor([1])},
                     torch.tensor([2]))
    assert float(loss) == pytest.approx(-math.log(float(paths)), rel=1e-6)
    # a confident, correct frame sequence costs almost nothing
    sure = torch.full((1, 2, 3), -30.0, dtype=torch.float64)
    sure[0, 0, 1] = sure[0, 1, 0] = 0.0
    assert float(task_loss("ctc", sure, {"target": torch.tensor([[1]]), "target_len": torch.tensor([1])},
                           torch.tensor([2]))) < 1e-6


def test_task_losses_hand_computed_and_at_optimum():
    logits = torch.tensor([[2.0, 0.0]], dtype=torch.float64)
    assert float(task_loss("classify", logits, {"target": torch.tensor([0])})) == \
        pytest.approx(-math.log(math.e**2 / (math.e**2 + 1)), rel=1e-9)
    multi = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    assert float(task_loss("multilabel", multi, {"target": torch.tensor([[1, 0]])})) == pytest.approx(math.log(2))
    image = torch.rand(2, 1, 4, 4)
    assert float(task_loss("image_recon", image.clone(), {"image": image})) == 0.0
    ids = torch.tensor([[3, 1, 0]])                      # the pad (0) is not scored
    perfect = torch.full((1, 3, 4), -50.0)
    perfect[0, 0, 3] = perfect[0, 1, 1] = 50.0
    assert float(task_loss("text_recon", perfect, {"text": ids})) < 1e-12
