"""Flat fading channels: Rayleigh and Rician, block or fast fading."""

from __future__ import annotations

import math
from numbers import Integral

import torch

from .base import Channel, complex_normal, uniform

__all__ = ["FadingChannel"]


class FadingChannel(Channel):
    """Flat fading ``y = h s + n`` with E|h|^2 = 1.

    Each coherence block of ``coherence`` consecutive symbols of a frame (a
    row of ``s``) shares one gain

        h = sqrt(K / (K + 1)) e^{j theta} + sqrt(1 / (K + 1)) g,   g ~ CN(0, 1),

    with a line-of-sight phase ``theta ~ U[0, 2 pi)`` drawn per block.
    ``k_factor = 0`` gives Rayleigh fading.

    Args:
        coherence: symbols per coherence block; ``None`` means one block per
            frame (block fading), ``1`` a new gain every symbol (fast fading).
        k_factor: Rician K factor (linear, LoS power over scattered power), >= 0.
        csi, pilots, generator: see :class:`~semcom_core.channels.base.Channel`.
            With ``csi="ls"`` every coherence block carries its own ``pilots``.
    """

    def __init__(
        self,
        coherence: int | None = None,
        k_factor: float = 0.0,
        csi: str = "perfect",
        pilots: int = 4,
        generator: torch.Generator | None = None,
        impairments=None,
    ):
        super().__init__(csi=csi, pilots=pilots, generator=generator, impairments=impairments)
        if coherence is not None and (
            isinstance(coherence, bool) or not isinstance(coherence, Integral) or coherence < 1
        ):
            raise ValueError(f"coherence must be a positive integer or None, got {coherence!r}")
        coherence = None if coherence is None else int(coherence)
        k_factor = float(k_factor)
        if not math.isfinite(k_factor) or k_factor < 0:
            raise ValueError(f"k_factor must be finite and >= 0, got {k_factor}")
        self.coherence = coherence
        self.k_factor = k_factor

    def num_blocks(self, k: int) -> int:
        """Coherence blocks in a frame of ``k`` symbols (the last one may be shorter)."""
        return 1 if self.coherence is None else -(-k // self.coherence)

    def sample_gains(self, batch_size, k, device, generator):
        nb = self.num_blocks(k)
        blocks = complex_normal((batch_size, nb), generator, device)
        if self.k_factor > 0:
            theta = 2 * math.pi * uniform((batch_size, nb), generator, device)
            los = torch.polar(torch.ones_like(theta), theta)
            kf = self.k_factor
            blocks = math.sqrt(kf / (kf + 1)) * los + math.sqrt(1 / (kf + 1)) * blocks
        return self.expand_blocks(blocks, k), blocks

    def expand_blocks(self, blocks, k):
        if self.coherence is None:
            return blocks
        return blocks.repeat_interleave(self.coherence, dim=1)[:, :k]

    def extra_repr(self) -> str:
        return f"coherence={self.coherence}, k_factor={self.k_factor}, " + super().extra_repr()
