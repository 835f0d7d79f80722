"""Side information of one transmitted latent: what the receiver needs besides the symbols.

A quantised latent needs the quantiser's range (``z_min``, ``z_max``) and bit width ``q``; an
A-MIJSCC latent also needs ``end``, the number of leading complex symbols actually sent (the receiver
zero-fills the rest). Analog latents carry ``q = 0`` and a zero range. :mod:`.framing` puts a
``SideInfo`` into a frame header; :meth:`SideInfo.problem` says why a received one cannot belong to a
given transceiver, so receivers drop (and count) such frames instead of decoding garbage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["SideInfo"]


@dataclass(frozen=True)
class SideInfo:
    q: int          # quantiser bits per real value; 0 for analog symbols
    end: int        # complex symbols sent (the active prefix); the transceiver's k when nothing is masked
    z_min: float = 0.0
    z_max: float = 0.0

    def problem(self, k: int, q: int | None) -> str | None:
        """Why this side information contradicts a transceiver with ``k`` symbols and bit width ``q``
        (None for analog), or None when it is consistent."""
        want_q = 0 if q is None else int(q)
        if self.q != want_q:
            return f"q={self.q} but the transceiver uses q={want_q}"
        if not 0 <= self.end <= k:
            return f"mask end index {self.end} outside [0, {k}]"
        if self.q:
            if not (math.isfinite(self.z_min) and math.isfinite(self.z_max)):
                return f"non-finite quantiser range z_min={self.z_min} z_max={self.z_max}"
            if self.z_max <= self.z_min:
                return f"z_max={self.z_max} <= z_min={self.z_min}"
        return None
