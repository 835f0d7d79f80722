"""Correlation-based self-supervised losses: Barlow Twins (eq. 19) and the decoupled multi-modal loss (eq. 7-14).

Features of one batch are [B, K]. The correlation matrix of eq. 8 / 11 is

    C_ij = sum_b a_bi b_bj / (sqrt(sum_b a_bi^2) sqrt(sum_b b_bj^2))

computed on features centred over the batch (``center=True``, the default), which makes it the Pearson
correlation that Barlow Twins obtains by batch-normalising its embeddings; ``center=False`` is eq. 8 as
written. Entries lie in [-1, 1] either way, and a copy of the same features gives a diagonal of ones.

In multi-process training each process holds part of the batch; :func:`gather_batch` concatenates the
parts (with gradients) so that every process computes the loss of the whole global batch.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from .contrastive import info_nce


def cross_correlation(a: torch.Tensor, b: torch.Tensor, center: bool = True, eps: float = 1e-8) -> torch.Tensor:
    """C [K_a, K_b] between features a [B, K_a] and b [B, K_b] of the same B samples."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0]:
        raise ValueError(f"features must be [B, K] with the same B, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[0] < 2:
        raise ValueError("a correlation needs at least 2 samples in the batch")
    if center:
        a, b = a - a.mean(0), b - b.mean(0)
    return (a.T @ b) / (a.norm(dim=0)[:, None] * b.norm(dim=0)[None, :] + eps)


def _off_diagonal_sq(c: torch.Tensor) -> torch.Tensor:
    return (c ** 2).sum() - (torch.diagonal(c) ** 2).sum()


def barlow_twins_loss(c: torch.Tensor, lam: float) -> torch.Tensor:
    """Eq. 10 / 19: sum_i (1 - C_ii)^2 + lam sum_{i != j} C_ij^2."""
    return ((1 - torch.diagonal(c)) ** 2).sum() + lam * _off_diagonal_sq(c)


def unique_loss(c: torch.Tensor, lam: float) -> torch.Tensor:
    """Eq. 14: sum_i C_ii^2 + lam sum_{i != j} C_ij^2 (unique dimensions decorrelated across modalities)."""
    return (torch.diagonal(c) ** 2).sum() + lam * _off_diagonal_sq(c)


def cross_modal_loss(c: torch.Tensor, k_shared: int, lam_shared: float, lam_unique: float) -> torch.Tensor:
    """Eq. 13 + 14 on one cross-modal matrix C^{m,n}: its [:K_sha, :K_sha] block aligned, its
    [K_sha:, K_sha:] block driven to zero; with K_sha = K this is eq. 13 (Barlow Twins) alone."""
    k = c.shape[0]
    if not 0 < k_shared <= k:
        raise ValueError(f"k_shared must be in [1, K={k}], got {k_shared}")
    loss = barlow_twins_loss(c[:k_shared, :k_shared], lam_shared)
    if k_shared < k:
        loss = loss + unique_loss(c[k_shared:, k_shared:], lam_unique)
    return loss


def decoupled_loss(views: list[tuple[torch.Tensor, torch.Tensor]], k_shared: int, lam_intra: float,
                   lam_shared: float, lam_unique: float, center: bool = True) -> tuple[torch.Tensor, dict]:
    """Eq. 7: L_intra (eq. 9-10, each modality's two views) + L_cross (eq. 12, every ordered pair m != n of
    modalities, on their first views). `views` holds (z^m, z~^m) per modality. Returns (loss, parts)."""
    intra = sum(barlow_twins_loss(cross_correlation(z, z_aug, center), lam_intra) for z, z_aug in views)
    cross = torch.zeros((), device=views[0][0].device)
    for m, (z_m, _) in enumerate(views):
        for n, (z_n, _) in enumerate(views):
            if n != m:
                cross = cross + cross_modal_loss(cross_correlation(z_m, z_n, center), k_shared, lam_shared, lam_unique)
    return intra + cross, {"intra": intra.detach(), "cross": cross.detach()}


def barlow_twins_per_modality(views, lam: float, center: bool = True) -> tuple[torch.Tensor, dict]:
    """Eq. 19 for each modality on its own (no cross-modal term), summed."""
    loss = sum(barlow_twins_loss(cross_correlation(z, z_aug, center), lam) for z, z_aug in views)
    return loss, {}


def simclr_per_modality(views, tau: float) -> tuple[torch.Tensor, dict]:
    """Eq. 18 (NT-Xent over the 2B views of a batch) for each modality on its own, summed."""
    loss = sum(info_nce(torch.nn.functional.normalize(torch.cat([z, z_aug]), dim=1), tau) for z, z_aug in views)
    return loss, {}


class _GatherWithGrad(torch.autograd.Function):
    """All-gather along the batch; the backward pass sums every process's gradient and keeps this
    process's slice. With DDP's gradient averaging this gives exactly the one-process gradient of a loss
    computed on the global batch."""

    @staticmethod
    def forward(ctx, x):
        ctx.rank, ctx.size = dist.get_rank(), x.shape[0]
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.size:(ctx.rank + 1) * ctx.size]


def gather_batch(x: torch.Tensor) -> torch.Tensor:
    """The global batch [sum of B over processes, ...] in multi-process training; x itself otherwise."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return _GatherWithGrad.apply(x)
    return x
