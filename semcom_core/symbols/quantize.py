"""q-bit asymmetric (min/max) quantiser with per-sample side information."""

from __future__ import annotations

from numbers import Integral

import torch
from torch import nn

__all__ = ["quantize", "dequantize", "AsymmetricQuantizer", "check_bits"]

MAX_BITS = 16


def check_bits(q) -> int:
    """Validate a bit width ``q`` (integer in 1..16) and return it."""
    if isinstance(q, bool) or not isinstance(q, Integral) or not 1 <= q <= MAX_BITS:
        raise ValueError(f"q must be an integer in 1..{MAX_BITS}, got {q!r}")
    return int(q)


def _step(z_min: torch.Tensor, z_max: torch.Tensor, q: int) -> torch.Tensor:
    return (z_max - z_min) / (2**q - 1)


def _per_row(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape(-1, *([1] * (like.dim() - 1)))


def quantize(z: torch.Tensor, q: int):
    """Quantise each row of ``z`` ``[B, ...]`` onto ``2^q`` uniform levels.

    The levels span the row's own range: level ``l`` stands for
    ``z_min + l * (z_max - z_min) / (2^q - 1)``, so ``z_min`` maps to 0 and
    ``z_max`` to ``2^q - 1``.

    Returns:
        ``(levels, z_min, z_max)``: int64 levels in ``[0, 2^q - 1]`` shaped
        like ``z``; ``z_min`` and ``z_max`` of shape ``[B]`` (the side
        information the receiver needs). A constant row gets level 0.
    """
    q = check_bits(q)
    if z.dim() < 2:
        raise ValueError(f"quantize expects [B, ...], got shape {tuple(z.shape)}")
    z = z.detach().float()
    flat = z.reshape(z.shape[0], -1)
    z_min, z_max = flat.min(dim=1).values, flat.max(dim=1).values
    step = _step(z_min, z_max, q)
    step = torch.where(step > 0, step, torch.ones_like(step))  # constant row
    levels = torch.round((z - _per_row(z_min, z)) / _per_row(step, z))
    return levels.clamp_(0, 2**q - 1).long(), z_min, z_max


def dequantize(levels: torch.Tensor, z_min: torch.Tensor, z_max: torch.Tensor, q: int) -> torch.Tensor:
    """Values ``z_min + levels * step`` of (possibly fractional) levels, float32.

    ``|z - dequantize(*quantize(z, q), q)| <= step / 2`` with
    ``step = (z_max - z_min) / (2^q - 1)``.
    """
    q = check_bits(q)
    z_min = torch.as_tensor(z_min, dtype=torch.float32, device=levels.device).reshape(-1)
    z_max = torch.as_tensor(z_max, dtype=torch.float32, device=levels.device).reshape(-1)
    if z_min.shape[0] != levels.shape[0] or z_max.shape[0] != levels.shape[0]:
        raise ValueError(
            f"z_min/z_max must have shape [B]=[{levels.shape[0]}], got {tuple(z_min.shape)}, {tuple(z_max.shape)}"
        )
    step = _step(z_min, z_max, q)
    return _per_row(z_min, levels) + levels.float() * _per_row(step, levels)


class AsymmetricQuantizer(nn.Module):
    """Quantise-dequantise ``z`` with ``2^q`` levels per sample, straight-through gradient.

    The forward value is ``dequantize(*quantize(z, q), q)``; the backward pass
    treats the quantiser as the identity.
    """

    def __init__(self, q: int):
        super().__init__()
        self.q = check_bits(q)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z_hat = dequantize(*quantize(z, self.q), self.q).to(z.dtype)
        return z + (z_hat - z).detach()

    def extra_repr(self) -> str:
        return f"q={self.q}"
