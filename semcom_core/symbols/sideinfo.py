"""Side information: what a receiver needs besides the symbols, as the one type used everywhere.

A quantised latent needs the quantiser's range (``z_min``, ``z_max``) and bit width ``q``; an A-MIJSCC
latent also needs ``end``, the number of leading complex symbols actually sent (the receiver zero-fills
the rest). Analog latents carry ``q = 0`` and a zero range.

A :class:`SideInfo` describes one frame (plain numbers) or a batch (``end``, ``z_min`` and ``z_max`` as
tensors ``[B]``; ``q`` is shared): the symbol codec makes batched ones, frames carry single ones, and
:meth:`SideInfo.rows` / :meth:`SideInfo.stack` go between the two. Its conversions to and from stream tags
(:meth:`to_tags`, :meth:`from_tags`) and header bit fields (:func:`side_columns`, :func:`sides_from_columns`)
live here and nowhere else. :meth:`problem` says why a received one cannot belong to a given transceiver,
so receivers drop (and count) such frames instead of decoding garbage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["FrameError", "SIDE_FIELDS", "SideInfo", "side_columns", "sides_from_columns", "tag_value"]

#: The side information's fields in a header and their widths in bits (floats as IEEE float32).
SIDE_FIELDS = (("q", 8), ("end", 16), ("z_min", 32), ("z_max", 32))
_MAX_Q = (1 << 8) - 1
_MAX_END = (1 << 16) - 1

#: The largest quantiser range bound a frame may carry: a latent value beyond it is not physical (the encoders'
#: latents stay within a few hundred) and it is what the burst format's float16 side words can hold.
MAX_LATENT = 65504.0


class FrameError(ValueError):
    """A received frame that cannot be used; ``reason`` is a short category for counting."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason if not detail else f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class SideInfo:
    q: int                          # quantiser bits per real value; 0 for analog symbols
    end: int | torch.Tensor         # complex symbols sent per frame (the active prefix)
    z_min: float | torch.Tensor = 0.0
    z_max: float | torch.Tensor = 0.0

    # --- batches ---------------------------------------------------------------------------------------
    @property
    def batched(self) -> bool:
        return isinstance(self.end, torch.Tensor)

    def __len__(self) -> int:
        if not self.batched:
            raise TypeError("a single frame's SideInfo has no length")
        return int(self.end.shape[0])

    def rows(self) -> list[SideInfo]:
        """One SideInfo of plain numbers per frame of a batched one."""
        if not self.batched:
            return [self]
        ends = self.end.tolist()
        if not self.q:
            return [SideInfo(0, int(e)) for e in ends]
        lows, highs = self.z_min.tolist(), self.z_max.tolist()
        return [SideInfo(int(self.q), int(e), float(lo), float(hi)) for e, lo, hi in zip(ends, lows, highs)]

    @classmethod
    def stack(cls, sides, device=None) -> SideInfo:
        """A batched SideInfo of per-frame ones, which must share ``q``."""
        sides = list(sides)
        if not sides:
            raise ValueError("no side information to stack")
        qs = {int(s.q) for s in sides}
        if len(qs) != 1:
            raise ValueError(f"frames of one batch must share q, got {sorted(qs)}")
        as_tensor = lambda values, dtype: torch.tensor(values, dtype=dtype, device=device)  # noqa: E731
        return cls(qs.pop(), as_tensor([int(s.end) for s in sides], torch.long),
                   as_tensor([float(s.z_min) for s in sides], torch.float32),
                   as_tensor([float(s.z_max) for s in sides], torch.float32))

    # --- checks ----------------------------------------------------------------------------------------
    def problem(self, k: int, q: int | None) -> str | None:
        """Why this (single-frame) side information contradicts a transceiver with ``k`` symbols and bit
        width ``q`` (None for analog), or None when it is consistent."""
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
            if max(abs(self.z_min), abs(self.z_max)) > MAX_LATENT:
                return f"quantiser range z_min={self.z_min:.3g} z_max={self.z_max:.3g} beyond +-{MAX_LATENT:g}"
        return None

    def check_fits_header(self) -> None:
        """Raise ``ValueError`` when a field does not fit its header width (:data:`SIDE_FIELDS`)."""
        if not (isinstance(self.q, (int, np.integer)) and 0 <= int(self.q) <= _MAX_Q):
            raise ValueError(f"q={self.q!r} does not fit the header's 8 bits (0..{_MAX_Q})")
        if not (isinstance(self.end, (int, np.integer)) and 0 <= int(self.end) <= _MAX_END):
            raise ValueError(f"end={self.end!r} does not fit the header's 16 bits (0..{_MAX_END})")
        for name in ("z_min", "z_max"):
            value = getattr(self, name)
            try:
                with np.errstate(over="ignore"):
                    as32 = np.float32(value)
            except (TypeError, ValueError) as err:
                raise ValueError(f"{name}={value!r} is not a number") from err
            if not math.isfinite(float(value)) or not np.isfinite(as32):
                raise ValueError(f"{name}={value!r} is not a finite float32")

    # --- stream tags -----------------------------------------------------------------------------------
    def to_tags(self) -> dict:
        """The tags of a single frame: ``q`` and ``end``, and ``z_min``/``z_max`` when quantised."""
        tags = {"q": int(self.q), "end": int(self.end)}
        if self.q:
            tags.update(z_min=float(self.z_min), z_max=float(self.z_max))
        return tags

    @classmethod
    def from_tags(cls, tags, frame_length: int | None = None) -> SideInfo:
        """The side information of a frame from its tags (name -> value, or name -> list of the values
        found on the frame's first sample). Without a ``q`` tag the frame is analog; without ``end`` it is
        ``frame_length``. Raises :class:`FrameError` for missing or contradictory values."""
        q = tag_value(tags, "q", int, 0)
        end = tag_value(tags, "end", int, frame_length)
        if not q:
            return cls(0, end)
        return cls(q, end, tag_value(tags, "z_min", float, None), tag_value(tags, "z_max", float, None))


def tag_value(tags, key: str, kind=float, default=None):
    """The number a frame's tag ``key`` holds (``tags``: name -> value or list of the values found), as
    ``kind``; ``default`` when absent (None: :class:`FrameError` "missing side information"). Differing
    values or non-numbers raise :class:`FrameError` "contradictory side information"."""
    values = tags.get(key)
    if values is None or (isinstance(values, list) and not values):
        if default is None:
            raise FrameError("missing side information", f"no {key} tag on the frame")
        return default
    values = values if isinstance(values, list) else [values]
    if len({repr(v) for v in values}) != 1:
        raise FrameError("contradictory side information", f"{len(values)} different {key} tags")
    raw = values[0]
    if isinstance(raw, bool) or not isinstance(raw, (int, float, np.integer, np.floating)):
        raise FrameError("contradictory side information", f"{key} tag {raw!r} is not a number")
    if kind is int and not (math.isfinite(float(raw)) and float(raw) == int(raw)):
        raise FrameError("contradictory side information", f"{key} tag {raw!r} is not an integer")
    return kind(raw)


# --- header bit fields ----------------------------------------------------------------------------------
def side_columns(sides) -> dict[str, np.ndarray]:
    """The fields of :data:`SIDE_FIELDS` of per-frame SideInfos as unsigned integers (floats by their
    float32 bit pattern), one array ``[B]`` each, ready to be written as bits."""
    return {
        "q": np.array([int(s.q) for s in sides], dtype=np.uint64),
        "end": np.array([int(s.end) for s in sides], dtype=np.uint64),
        "z_min": np.array([s.z_min for s in sides], dtype=np.float32).view(np.uint32).astype(np.uint64),
        "z_max": np.array([s.z_max for s in sides], dtype=np.float32).view(np.uint32).astype(np.uint64),
    }


def sides_from_columns(columns: dict) -> list[SideInfo]:
    """Inverse of :func:`side_columns`."""
    z_min = columns["z_min"].astype(np.uint32).view(np.float32)
    z_max = columns["z_max"].astype(np.uint32).view(np.float32)
    return [SideInfo(q=int(q), end=int(e), z_min=float(lo), z_max=float(hi))
            for q, e, lo, hi in zip(columns["q"], columns["end"], z_min, z_max)]
