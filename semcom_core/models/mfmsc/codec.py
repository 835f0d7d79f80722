"""MFMSC channel encoder and decoder (paper Sections IV-C/D, Figs. 7 and 8): two-layer MLPs on the last
axis, so they apply to a fused vector [B, dim] and to token sequences [B, L, dim] alike. The encoder's
output is not power-normalised; that is the transmitter's job."""

from __future__ import annotations

import torch
from torch import nn


def _check_last_axis(x: torch.Tensor, size: int, what: str) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim not in (2, 3) or x.shape[-1] != size:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"expected {what} [B, {size}] or [B, L, {size}], got {shape}")


class ChannelEncoder(nn.Module):
    """Linear(dim -> hidden) -> ReLU -> Linear(hidden -> out): compresses semantic features to channel
    inputs."""

    def __init__(self, dim: int, hidden: int, out: int):
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, out))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features [B, dim] or [B, L, dim] -> [B, out] or [B, L, out]."""
        _check_last_axis(features, self.dim, "semantic features")
        return self.mlp(features)


class ChannelDecoder(nn.Module):
    """Linear(out -> hidden) -> ReLU -> Linear(hidden -> dim): restores semantic features from received
    channel outputs."""

    def __init__(self, out: int, hidden: int, dim: int):
        super().__init__()
        self.out = out
        self.mlp = nn.Sequential(nn.Linear(out, hidden), nn.ReLU(), nn.Linear(hidden, dim))

    def forward(self, received: torch.Tensor) -> torch.Tensor:
        """received [B, out] or [B, L, out] -> [B, dim] or [B, L, dim]."""
        _check_last_axis(received, self.out, "received symbols")
        return self.mlp(received)
