"""Classification from the received latent, without end-to-end labels (the MIJSCC paper, Sec. V).

The transceiver is trained without labels; afterwards it is frozen and a small classifier reads the latent
the receiver holds (after codec, channel and, for A-MIJSCC, zero-filling): a 3-layer MLP trained with the
labels of all or a fraction (e.g. 10 %) of the training images, and, as a check that needs no training at
all, a k-nearest-neighbour vote against the labelled images' received latents.

Received latents are drawn afresh every epoch at SNRs uniform over the training range, so the MLP learns
the channel's noise as well as the classes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..models.latent_mlp import LatentMLP

__all__ = ["LatentMLP", "encode_all", "train_latent_classifier", "knn_predict", "labelled_subset"]


@torch.no_grad()
def encode_all(encoder: nn.Module, images: torch.Tensor, batch: int = 512) -> torch.Tensor:
    """Encoder outputs z [N, 2k] of a stack of images, in eval mode."""
    encoder.eval()
    return torch.cat([encoder(images[i:i + batch]) for i in range(0, len(images), batch)])


def labelled_subset(labels: torch.Tensor, fraction: float, seed: int = 0) -> torch.Tensor:
    """Indices of a class-balanced `fraction` of the samples (at least one per class)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"labelled fraction must be in (0, 1], got {fraction}")
    g = torch.Generator().manual_seed(seed)
    picked = []
    for c in labels.unique():
        idx = (labels == c).nonzero().squeeze(1)
        idx = idx[torch.randperm(len(idx), generator=g)]
        picked.append(idx[: max(1, round(fraction * len(idx)))])
    return torch.cat(picked).sort().values


def train_latent_classifier(receive, z: torch.Tensor, labels: torch.Tensor, snr_range, num_classes: int,
                            epochs: int = 30, hidden: int = 256, lr: float = 2e-3, batch: int = 256,
                            seed: int = 0, progress: bool = False) -> LatentMLP:
    """Train a :class:`LatentMLP` on ``receive(z_batch, snr_db [B]) -> received latents``; the frozen
    transceiver's encoder outputs ``z`` [N, 2k] are passed through the link afresh every batch."""
    torch.manual_seed(seed)
    lo, hi = (float(v) for v in snr_range)
    mlp = LatentMLP(z.shape[1], num_classes, hidden)
    opt = torch.optim.Adam(mlp.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, epochs))
    n = len(z)
    for epoch in range(epochs):
        mlp.train()
        order = torch.randperm(n)
        total = 0.0
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            if len(idx) < 2:
                continue
            with torch.no_grad():
                z_hat = receive(z[idx], lo + (hi - lo) * torch.rand(len(idx)))
            loss = F.cross_entropy(mlp(z_hat), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        if progress and (epoch + 1) % 10 == 0:
            print(f"  latent classifier epoch {epoch + 1}/{epochs}: loss {total / n:.3f}", flush=True)
    return mlp.eval()


@torch.no_grad()
def knn_predict(reference: torch.Tensor, reference_labels: torch.Tensor, queries: torch.Tensor,
                k: int = 10, num_classes: int | None = None, chunk: int = 1024) -> torch.Tensor:
    """Majority vote of the ``k`` nearest references (Euclidean) for each query; ties go to the lower class."""
    if reference.ndim != 2 or queries.ndim != 2 or reference.shape[1] != queries.shape[1]:
        raise ValueError(f"kNN needs [N, D] references and [M, D] queries, got {tuple(reference.shape)}, "
                         f"{tuple(queries.shape)}")
    k = min(int(k), len(reference))
    classes = int(num_classes or int(reference_labels.max()) + 1)
    out = []
    for i in range(0, len(queries), chunk):
        nearest = torch.cdist(queries[i:i + chunk], reference).topk(k, largest=False).indices
        votes = F.one_hot(reference_labels[nearest], classes).sum(1)
        out.append(votes.argmax(1))
    return torch.cat(out)
