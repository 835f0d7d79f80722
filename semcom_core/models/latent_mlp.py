"""The small classifier that reads a received latent (MIJSCC, Sec. V)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["LatentMLP"]


class LatentMLP(nn.Module):
    """3 fully connected layers (ReLU between, batch-norm on the hidden layers): latent [B, in_dim] -> logits."""

    def __init__(self, in_dim: int, num_classes: int = 10, hidden: int = 256):
        super().__init__()
        if in_dim < 1 or num_classes < 2 or hidden < 1:
            raise ValueError(f"in_dim, num_classes, hidden must be >= 1, >= 2, >= 1; got {in_dim}, {num_classes}, {hidden}")
        self.in_dim = int(in_dim)
        self.body = nn.Sequential(nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                                  nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                                  nn.Linear(hidden, num_classes))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.in_dim:
            raise ValueError(f"latent classifier expects [B, {self.in_dim}] latents, got {tuple(z.shape)}")
        return self.body(z)
