"""The interface every source codec implements.

A codec turns one item (an image, a text, a speech clip, a video) into bytes
that fit a budget of bits, and the bytes back into an item. The bytes are
exactly what the link sends; ``Encoded.bits`` is what is counted against the
budget, and is never more than the budget.

Experiments send one item at many budgets, so a codec encodes an item once at
every setting of its quality grid (:meth:`SourceCodec.ladder`) and a budget
then only picks a rung (:func:`fit`).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Encoded", "SourceCodec", "SourceDecodeError", "fit", "make_ladder",
           "image_to_uint8", "uint8_to_image", "check_image_meta"]


class SourceDecodeError(Exception):
    """The received bytes do not decode (truncated or corrupted bitstream)."""


@dataclass
class Encoded:
    """One item compressed to fit a budget.

    Attributes:
        payload: the bytes the link sends.
        bits: bits counted against the budget (``8 * len(payload)`` unless the
            codec documents otherwise).
        quality: the codec setting that was chosen (codec-specific scale).
        meta: what the receiver knows without reading the payload (the item's
            shape, the sample rate): agreed in advance, not sent.
    """

    payload: bytes
    bits: int
    quality: float
    meta: dict = field(default_factory=dict)


class SourceCodec(abc.ABC):
    """Compress items to a bit budget and decompress them."""

    name: str = "codec"

    @abc.abstractmethod
    def ladder(self, item) -> list[Encoded]:
        """Every useful encoding of ``item`` over the codec's quality grid.

        Sorted by bits ascending; quality improves strictly along the list
        (an encoding with more bits but no better quality than another is
        dropped, see :func:`make_ladder`). Raises ValueError for an item of
        the wrong kind or shape.
        """

    def encode(self, item, budget_bits: int | None = None) -> Encoded | None:
        """The best quality whose bits fit ``budget_bits`` (None: no limit).

        Returns None when even the lowest quality does not fit (infeasible).
        Raises ValueError for an item of the wrong kind or shape.
        """
        return fit(self.ladder(item), budget_bits)

    @abc.abstractmethod
    def decode(self, payload: bytes, meta: dict):
        """Bytes back to an item; SourceDecodeError when they do not decode."""


def fit(ladder: list[Encoded], budget_bits: int | None) -> Encoded | None:
    """The highest-quality rung of ``ladder`` whose bits fit ``budget_bits``.

    ``ladder`` is what :meth:`SourceCodec.ladder` returns (bits ascending,
    quality improving). None when no rung fits; the last rung when the
    budget is None.
    """
    if budget_bits is None:
        return ladder[-1] if ladder else None
    if isinstance(budget_bits, bool) or not isinstance(budget_bits, (int, np.integer)) or budget_bits < 0:
        raise ValueError(f"budget_bits must be a non-negative integer or None, got {budget_bits!r}")
    best = None
    for rung in ladder:
        if rung.bits > budget_bits:
            break
        best = rung
    return best


def make_ladder(candidates: list[Encoded]) -> list[Encoded]:
    """A ladder from encodings listed from the worst quality setting to the best.

    Keeps an encoding only when every better setting costs strictly more
    bits, so the result has strictly increasing bits and quality.
    """
    kept: list[Encoded] = []
    for enc in reversed(candidates):
        if not kept or enc.bits < kept[-1].bits:
            kept.append(enc)
    return kept[::-1]


def unit_floats_to_uint8(item, layout: str, what: str) -> np.ndarray:
    """Check a float array in [0, 1] with ``layout`` "CHW" (an image) or "TCHW" (a clip), C = 1 or 3,
    and return it as ``uint8``, axes unchanged. Raises ValueError for another type or shape,
    NaN or infinite values, or values outside [0, 1] (beyond rounding error)."""
    if not isinstance(item, np.ndarray) or not np.issubdtype(item.dtype, np.floating):
        raise ValueError(f"{what} must be a float numpy array [{', '.join(layout)}], got {type(item).__name__}"
                         f"{'' if not isinstance(item, np.ndarray) else ' of dtype ' + str(item.dtype)}")
    if item.ndim != len(layout) or item.shape[layout.index("C")] not in (1, 3) or min(item.shape) < 1:
        raise ValueError(f"{what} must have shape [{', '.join(layout)}] with C = 1 or 3, got {item.shape}")
    if not np.isfinite(item).all():
        raise ValueError(f"the {what.split()[-1]} holds NaN or infinite values")
    if item.min() < -1e-6 or item.max() > 1 + 1e-6:
        raise ValueError(f"{what.split()[-1]} values must lie in [0, 1], got [{item.min():.4g}, {item.max():.4g}]")
    return (np.clip(item, 0, 1) * 255 + 0.5).astype(np.uint8)


def image_to_uint8(item) -> np.ndarray:
    """A float image ``[C, H, W]`` in [0, 1] (C = 1 or 3) as ``uint8 [H, W, C]``; ValueError otherwise."""
    return np.ascontiguousarray(unit_floats_to_uint8(item, "CHW", "an image").transpose(1, 2, 0))


def uint8_to_image(pixels: np.ndarray) -> np.ndarray:
    """``uint8 [H, W, C]`` back to a float32 image ``[C, H, W]`` in [0, 1]."""
    return np.ascontiguousarray(pixels.transpose(2, 0, 1), dtype=np.float32) / np.float32(255)


def check_image_meta(meta: dict) -> tuple[int, int, int]:
    """``(C, H, W)`` from ``meta["shape"]``; ValueError when it is not an image shape."""
    shape = meta.get("shape") if isinstance(meta, dict) else None
    if (not isinstance(shape, (tuple, list)) or len(shape) != 3 or shape[0] not in (1, 3)
            or not all(isinstance(s, (int, np.integer)) and s >= 1 for s in shape)):
        raise ValueError(f"meta must hold the image shape [C, H, W], got {meta!r}")
    return tuple(int(s) for s in shape)
