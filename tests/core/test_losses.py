"""Contrastive losses (eqs. 8 and 13 of the SemCC paper), the projection head and the soft update (eq. 14),
checked against direct loop implementations and hand cases."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from semcom_core.losses import ProjectionHead, info_nce, soft_update, supervised_contrastive


def _unit_rows(n: int, d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, d, generator=g, dtype=torch.float64), dim=1)


def _info_nce_loop(q: torch.Tensor, tau: float) -> float:
    """Eq. 8 written out: mean over the 2B views of -log exp(q_x.q_x*/tau) / sum_{m != x} exp(q_x.q_m/tau)."""
    n = q.shape[0]
    b = n // 2
    total = 0.0
    for x in range(n):
        positive = (x + b) % n
        numerator = math.exp(float(q[x] @ q[positive]) / tau)
        denominator = sum(math.exp(float(q[x] @ q[m]) / tau) for m in range(n) if m != x)
        total += -math.log(numerator / denominator)
    return total / n


def _supcon_loop(q: torch.Tensor, labels: list[int], tau: float, denominator: str) -> float:
    """Eq. 13 written out; anchors with no positive (or nothing in the denominator) are left out of the mean."""
    n = q.shape[0]
    per_anchor = []
    for i in range(n):
        positives = [p for p in range(n) if p != i and labels[p] == labels[i]]
        if denominator == "negatives":
            others = [m for m in range(n) if labels[m] != labels[i]]
        else:
            others = [m for m in range(n) if m != i]
        if not positives or not others:
            continue
        log_den = math.log(sum(math.exp(float(q[i] @ q[m]) / tau) for m in others))
        terms = [math.log(math.exp(float(q[i] @ q[p]) / tau)) - log_den for p in positives]
        per_anchor.append(-sum(terms) / len(positives))
    return sum(per_anchor) / len(per_anchor)


# --- InfoNCE (eq. 8) ---------------------------------------------------------------------------

@pytest.mark.parametrize("tau", [0.1, 0.5])
@pytest.mark.parametrize("seed", [0, 1])
def test_info_nce_matches_loop(tau, seed):
    q = _unit_rows(6, 4, seed)  # B = 3, 2B = 6 views
    assert float(info_nce(q, tau)) == pytest.approx(_info_nce_loop(q, tau), rel=1e-10, abs=1e-12)


def test_info_nce_float32_matches_loop():
    q = _unit_rows(8, 5, 7)
    assert float(info_nce(q.float(), 0.2)) == pytest.approx(_info_nce_loop(q, 0.2), rel=1e-5)


def test_info_nce_single_pair_is_zero():
    # B = 1: the denominator holds only the positive, so the loss is -log(1) = 0 whatever the vectors.
    q = _unit_rows(2, 4, 3)
    assert float(info_nce(q, 0.1)) == pytest.approx(0.0, abs=1e-12)
    assert float(info_nce(q, 2.0)) == pytest.approx(0.0, abs=1e-12)


def test_info_nce_aligned_pairs_closed_form_and_lower_than_swapped():
    e = torch.eye(4, dtype=torch.float64)
    tau = 0.2
    aligned = torch.stack([e[0], e[1], e[0], e[1]])  # each x's positive is itself; the others orthogonal
    swapped = torch.stack([e[0], e[1], e[1], e[0]])  # positives orthogonal, a negative identical
    # aligned: every view sees exp(1/tau) on top and exp(1/tau) + 2 exp(0) below
    expected = math.log(1 + 2 * math.exp(-1 / tau))
    assert float(info_nce(aligned, tau)) == pytest.approx(expected, rel=1e-12)
    # swapped: exp(0) on top, exp(1/tau) + 2 exp(0) below
    expected_swapped = math.log(math.exp(1 / tau) + 2)
    assert float(info_nce(swapped, tau)) == pytest.approx(expected_swapped, rel=1e-12)
    assert float(info_nce(aligned, tau)) < float(info_nce(swapped, tau))


def test_info_nce_rejects_bad_input():
    with pytest.raises(ValueError):
        info_nce(_unit_rows(5, 4, 0), 0.1)  # odd number of views
    with pytest.raises(ValueError):
        info_nce(_unit_rows(4, 4, 0), 0.0)
    with pytest.raises(ValueError):
        info_nce(torch.zeros(4), 0.1)


def test_info_nce_gradient_flows():
    q = _unit_rows(6, 4, 2).requires_grad_(True)
    info_nce(q, 0.1).backward()
    assert q.grad is not None and float(q.grad.abs().sum()) > 0


# --- supervised contrastive (eq. 13) -----------------------------------------------------------

# classes 0 and 1 three times each, classes 2 and 3 once (those two anchors have no positive)
LABELS = [0, 1, 0, 2, 0, 1, 3, 1]


@pytest.mark.parametrize("denominator", ["negatives", "all"])
@pytest.mark.parametrize("tau", [0.1, 0.7])
def test_supervised_contrastive_matches_loop(denominator, tau):
    q = _unit_rows(len(LABELS), 4, 11)
    got = float(supervised_contrastive(q, torch.tensor(LABELS), tau, denominator=denominator))
    assert got == pytest.approx(_supcon_loop(q, LABELS, tau, denominator), rel=1e-10)


def test_supervised_contrastive_default_is_negatives_and_differs_from_all():
    q = _unit_rows(len(LABELS), 4, 5)
    labels = torch.tensor(LABELS)
    default = float(supervised_contrastive(q, labels, 0.3))
    assert default == pytest.approx(float(supervised_contrastive(q, labels, 0.3, denominator="negatives")))
    # "all" adds the positives (and nothing is removed) to the denominator: strictly larger loss
    assert float(supervised_contrastive(q, labels, 0.3, denominator="all")) > default


def test_supervised_contrastive_excludes_anchors_without_positives():
    q = _unit_rows(len(LABELS), 4, 3)
    labels = torch.tensor(LABELS)
    base = float(supervised_contrastive(q, labels, 0.5))
    # the mean runs over the 6 anchors with a positive, not over all 8 (singletons counted as zero)
    loop_usable = _supcon_loop(q, LABELS, 0.5, "negatives")
    assert base == pytest.approx(loop_usable, rel=1e-10)
    assert base != pytest.approx(loop_usable * 6 / 8, rel=1e-6)
    # renaming one singleton to another unused class changes nothing ...
    relabelled = labels.clone()
    relabelled[3] = 9
    assert float(supervised_contrastive(q, relabelled, 0.5)) == pytest.approx(base, rel=1e-12)
    # ... while pairing the two singletons gives them positives, and they enter the mean
    paired = labels.clone()
    paired[3] = 3
    paired_loss = float(supervised_contrastive(q, paired, 0.5))
    assert paired_loss == pytest.approx(_supcon_loop(q, paired.tolist(), 0.5, "negatives"), rel=1e-10)
    assert paired_loss != pytest.approx(base, rel=1e-6)


def test_supervised_contrastive_pairs_as_in_semre():
    # SemRE's use: views are s and s_r, labels repeated; each anchor's own counterpart is a positive
    q = _unit_rows(8, 6, 21)
    labels = torch.tensor([0, 1, 2, 1, 0, 1, 2, 1])
    assert float(supervised_contrastive(q, labels, 0.1)) == pytest.approx(
        _supcon_loop(q, labels.tolist(), 0.1, "negatives"), rel=1e-10)


def test_supervised_contrastive_errors():
    q = _unit_rows(6, 4, 0)
    with pytest.raises(ValueError):  # one class: no negatives for anyone
        supervised_contrastive(q, torch.zeros(6, dtype=torch.long), 0.1)
    with pytest.raises(ValueError):  # every class once: no positives for anyone
        supervised_contrastive(q, torch.arange(6), 0.1)
    with pytest.raises(ValueError):
        supervised_contrastive(q, torch.zeros(6, 1, dtype=torch.long), 0.1)
    with pytest.raises(ValueError):
        supervised_contrastive(q, torch.tensor([0, 1, 0, 1, 0]), 0.1)
    with pytest.raises(ValueError):
        supervised_contrastive(_unit_rows(5, 4, 0), torch.tensor([0, 1, 0, 1, 0]), 0.1)
    labels = torch.tensor([0, 1, 0, 1, 0, 1])
    with pytest.raises(ValueError):
        supervised_contrastive(q, labels, 0.0)
    with pytest.raises(ValueError):
        supervised_contrastive(q, labels, -0.5)
    with pytest.raises(ValueError):
        supervised_contrastive(q, labels, 0.1, denominator="others")


# --- soft update (eq. 14) ----------------------------------------------------------------------

def _net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2))
    net.train()
    for _ in range(seed + 1):  # move the running statistics and the batch counter
        net(torch.randn(8, 4) * (seed + 1) + seed)
    return net


def _state(net: nn.Module) -> dict:
    return {k: v.clone() for k, v in net.state_dict().items()}


def test_soft_update_is_eq14():
    target, source = _net(1), _net(3)
    old, src = _state(target), _state(source)
    assert not torch.equal(old["1.running_mean"], src["1.running_mean"])
    assert int(old["1.num_batches_tracked"]) != int(src["1.num_batches_tracked"])
    soft_update(target, source, beta=0.3)
    new = target.state_dict()
    for name, value in new.items():
        if value.is_floating_point():
            assert torch.allclose(value, 0.3 * old[name] + 0.7 * src[name], rtol=1e-6, atol=1e-7), name
        else:
            assert torch.equal(value, src[name]), name
    assert int(new["1.num_batches_tracked"]) == 4
    # parameters are updated in place: the module's own Parameters hold the new values
    assert torch.allclose(target[0].weight, 0.3 * old["0.weight"] + 0.7 * src["0.weight"], rtol=1e-6, atol=1e-7)
    # the source is untouched
    assert all(torch.equal(v, src[k]) for k, v in source.state_dict().items())


def test_soft_update_endpoints():
    target, source = _net(0), _net(2)
    old, src = _state(target), _state(source)
    soft_update(target, source, beta=1.0)
    for name, value in target.state_dict().items():
        if value.is_floating_point():
            assert torch.equal(value, old[name]), name
    soft_update(target, source, beta=0.0)
    for name, value in target.state_dict().items():
        assert torch.equal(value, src[name]), name


@pytest.mark.parametrize("beta", [-0.1, 1.01, 2.0])
def test_soft_update_rejects_beta_outside_unit_interval(beta):
    target, source = _net(0), _net(1)
    old = _state(target)
    with pytest.raises(ValueError):
        soft_update(target, source, beta=beta)
    assert all(torch.equal(v, old[k]) for k, v in target.state_dict().items())


# --- projection head ---------------------------------------------------------------------------

def test_projection_head_unit_rows():
    torch.manual_seed(0)
    head = ProjectionHead(64)
    out = head(torch.randn(10, 64) * 5)
    assert out.shape == (10, 32)
    assert torch.allclose(out.norm(dim=1), torch.ones(10), atol=1e-5)
    # feature maps are flattened
    head = ProjectionHead(2 * 4 * 4, hidden=16, out_dim=8)
    out = head(torch.randn(3, 2, 4, 4))
    assert out.shape == (3, 8)
    assert torch.allclose(out.norm(dim=1), torch.ones(3), atol=1e-5)


def test_supervised_contrastive_by_hand():
    # two classes, each a pair of identical unit vectors, the classes orthogonal: for every anchor the one
    # positive has logit 1/tau and the two negatives 0, so eq. 13 is log(2) - 1/tau
    q = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 1])
    for tau in (1.0, 0.1):
        assert float(supervised_contrastive(q, labels, tau)) == pytest.approx(math.log(2) - 1 / tau, rel=1e-12)
    # with every view the same (collapse), each anchor sees logit 1/tau everywhere: log(2) + 1/tau - 1/tau
    same = torch.tensor([[1.0, 0.0]] * 4, dtype=torch.float64)
    assert float(supervised_contrastive(same, labels, 0.1)) == pytest.approx(math.log(2), rel=1e-12)
