"""Contrastive losses of the SemCC paper and the soft (Polyak) update of SemRE's re-encoder.

Both losses take projections on the unit hypersphere, stacked as the 2B views of a batch:
rows 0..B-1 are the originals, rows B..2B-1 their counterparts (reconstructions, or re-encodings),
so that row i and row i + B form a positive pair.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _pairwise_logits(q: torch.Tensor, tau: float) -> torch.Tensor:
    if q.ndim != 2 or q.shape[0] % 2:
        raise ValueError(f"contrastive losses expect [2B, D] projections, got {tuple(q.shape)}")
    if tau <= 0:
        raise ValueError(f"temperature must be > 0, got {tau}")
    return q @ q.T / tau


def info_nce(q: torch.Tensor, tau: float) -> torch.Tensor:
    """Eq. 8 (NT-Xent): for every view x of the 2B, -log exp(q_x.q_x*/tau) / sum_{m != x} exp(q_x.q_m/tau)."""
    logits = _pairwise_logits(q, tau)
    n = q.shape[0]
    logits = logits.masked_fill(torch.eye(n, dtype=torch.bool, device=q.device), float("-inf"))
    partner = torch.arange(n, device=q.device).roll(n // 2)
    return F.cross_entropy(logits, partner)


def supervised_contrastive(q: torch.Tensor, labels: torch.Tensor, tau: float,
                           denominator: str = "negatives") -> torch.Tensor:
    """Eq. 13: positives of a view are the other views of its class, averaged per anchor.

    denominator="negatives" sums over the views of other classes (B* minus the positive set), as
    eq. 13 is written; "all" sums over every other view (Khosla et al.'s L_out). Anchors with no
    positive (or no negative) in the batch are left out of the mean.
    """
    if denominator not in ("negatives", "all"):
        raise ValueError(f"denominator must be 'negatives' or 'all', got {denominator!r}")
    logits = _pairwise_logits(q, tau)
    n = q.shape[0]
    if labels.shape != (n,):
        raise ValueError(f"labels must be [{n}] for {n} views, got {tuple(labels.shape)}")
    self_mask = torch.eye(n, dtype=torch.bool, device=q.device)
    same = labels[:, None] == labels[None, :]
    positives = same & ~self_mask
    in_denominator = ~same if denominator == "negatives" else ~self_mask
    log_denominator = torch.logsumexp(logits.masked_fill(~in_denominator, float("-inf")), dim=1)
    usable = positives.any(1) & in_denominator.any(1)
    if not usable.any():
        need = "a repeated class" + (" and at least two classes" if denominator == "negatives" else "")
        raise ValueError(f"supervised contrastive loss needs {need} in the batch")
    mean_positive_logit = (logits * positives).sum(1) / positives.sum(1).clamp(min=1)
    return (log_denominator - mean_positive_logit)[usable].mean()


class ProjectionHead(nn.Module):
    """Two fully connected layers onto the unit hypersphere (the paper's projection network, output 32)."""

    def __init__(self, in_dim: int, hidden: int = 128, out_dim: int = 32):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(features.flatten(1)), dim=1)


@torch.no_grad()
def soft_update(target: nn.Module, source: nn.Module, beta: float) -> None:
    """Eq. 14: theta_r <- beta * theta_r + (1 - beta) * theta, for parameters and floating buffers.

    Integer buffers (BatchNorm's batch counter) are copied.
    """
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1], got {beta}")
    source_state = source.state_dict()
    for name, value in target.state_dict().items():
        new = source_state[name]
        if value.is_floating_point():
            value.mul_(beta).add_(new.detach(), alpha=1.0 - beta)
        else:
            value.copy_(new)
