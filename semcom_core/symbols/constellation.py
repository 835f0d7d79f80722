"""Square constellation carrying pairs of q-bit quantisation levels."""

from __future__ import annotations

import math

import torch
from torch import nn

from .quantize import check_bits

__all__ = ["SquareConstellation"]


class SquareConstellation(nn.Module):
    """``2^q x 2^q`` grid (``2^(2q)``-QAM) of unit average power.

    Level pair ``(levels[:, 2i], levels[:, 2i+1])`` becomes symbol ``i``:
    level ``l`` of the in-phase (quadrature) axis sits at amplitude
    ``(2 l - (M - 1)) / norm`` with ``M = 2^q`` and
    ``norm = sqrt(2 (M^2 - 1) / 3)``, so uniformly used levels give
    E|x|^2 = 1. Levels keep their order on each axis, so a decision error to
    a neighbouring point changes the value by a single quantisation step.
    The pairing matches :func:`~semcom_core.symbols.real_to_complex`.
    """

    def __init__(self, q: int):
        super().__init__()
        self.q = check_bits(q)
        self.levels_per_axis = 2**self.q
        self.norm = math.sqrt(2 * (self.levels_per_axis**2 - 1) / 3)

    @property
    def points(self) -> torch.Tensor:
        """All points, complex64 ``[M, M]``; ``points[i, q]`` carries levels ``(i, q)``."""
        m = self.levels_per_axis
        amp = self._amplitude(torch.arange(m, dtype=torch.float32))
        return torch.complex(amp[:, None].expand(m, m), amp[None, :].expand(m, m))

    def _amplitude(self, levels: torch.Tensor) -> torch.Tensor:
        return (2 * levels - (self.levels_per_axis - 1)) / self.norm

    def _level(self, amplitude: torch.Tensor) -> torch.Tensor:
        return (amplitude * self.norm + (self.levels_per_axis - 1)) / 2

    def map(self, levels: torch.Tensor) -> torch.Tensor:
        """Integer levels ``[B, 2k]`` in ``[0, 2^q - 1]`` -> complex64 points ``[B, k]``.

        Float (fractional) levels are mapped onto the same affine grid, which
        is what a straight-through gradient needs.
        """
        if levels.dim() != 2 or levels.shape[1] % 2:
            raise ValueError(f"map expects levels [B, 2k] with an even width, got {tuple(levels.shape)}")
        if not levels.is_floating_point():
            if levels.numel() and (int(levels.min()) < 0 or int(levels.max()) >= self.levels_per_axis):
                raise ValueError(f"levels must lie in [0, {self.levels_per_axis - 1}]")
        amp = self._amplitude(levels.float()).reshape(levels.shape[0], -1, 2)
        return torch.complex(amp[..., 0], amp[..., 1])

    def soft_demap(self, y: torch.Tensor) -> torch.Tensor:
        """Real-valued level estimates ``[B, 2k]`` (no decision), clipped to ``[0, 2^q - 1]``."""
        if y.dim() != 2 or not y.is_complex():
            raise ValueError(f"demap expects complex symbols [B, k], got {y.dtype} {tuple(y.shape)}")
        u = self._level(torch.view_as_real(y).reshape(y.shape[0], -1).float())
        return u.clamp(0, self.levels_per_axis - 1)

    def demap(self, y: torch.Tensor) -> torch.Tensor:
        """Nearest-point decision: complex ``[B, k]`` -> int64 levels ``[B, 2k]``."""
        return torch.round(self.soft_demap(y).detach()).long()

    def extra_repr(self) -> str:
        return f"q={self.q}"
