"""The interface every channel code implements.

Bits are ``uint8`` arrays of 0/1 with the codeword axis last. LLRs follow one
convention across semcom: ``llr = ln P(b=0) / P(b=1)`` (positive means 0).
Wrappers of libraries with the opposite convention (Sionna) flip the sign.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np

__all__ = ["ChannelCode", "DecodeResult", "check_bits", "sanitize_llr"]


@dataclass
class DecodeResult:
    """What decoding a batch of codewords gave.

    Attributes:
        bits: decoded information bits, ``uint8 [..., k]``.
        ok: ``bool [...]``, True where the decoder believes the codeword is right
            (parity checks satisfied, CRC passed); False also for codewords whose
            LLRs held NaNs.
        iterations: decoder iterations used per codeword, ``int [...]`` (0 where
            the code has no iterations).
    """

    bits: np.ndarray
    ok: np.ndarray
    iterations: np.ndarray


class ChannelCode(abc.ABC):
    """A block code: ``k`` information bits -> ``n`` coded bits.

    Subclasses set ``self._k`` and ``self._n`` and implement :meth:`encode`
    and :meth:`decode`.
    """

    name: str = "code"
    _k: int
    _n: int

    @property
    def k(self) -> int:
        """Information bits per codeword."""
        return self._k

    @property
    def n(self) -> int:
        """Coded bits per codeword."""
        return self._n

    @property
    def rate(self) -> float:
        return self.k / self.n

    @abc.abstractmethod
    def encode(self, bits: np.ndarray) -> np.ndarray:
        """``uint8 [..., k]`` -> ``uint8 [..., n]``. Raises ValueError on a wrong last axis."""

    @abc.abstractmethod
    def decode(self, llr: np.ndarray) -> DecodeResult:
        """``float [..., n]`` LLRs -> :class:`DecodeResult`.

        Raises ValueError when the last axis is not ``n``; NaN LLRs are not an
        error: they count as erasures and their codewords are reported not ok.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}(k={self.k}, n={self.n}, rate={self.rate:.3f})"


def check_bits(bits, length: int, what: str = "bits") -> np.ndarray:
    """Return ``bits`` as ``uint8`` with last axis ``length``; ValueError otherwise."""
    arr = np.asarray(bits)
    if arr.ndim == 0 or arr.shape[-1] != length:
        raise ValueError(f"{what} must have last axis {length}, got shape {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise ValueError(f"{what} must hold only 0 and 1")
    return arr.astype(np.uint8, copy=False)


def sanitize_llr(llr, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Check the last axis, replace non-finite LLRs by 0 (erasures).

    Returns ``(llr float32 [..., length], bad bool [...])`` where ``bad`` marks
    codewords that held a non-finite value.
    """
    arr = np.asarray(llr, dtype=np.float32)
    if arr.ndim == 0 or arr.shape[-1] != length:
        raise ValueError(f"LLRs must have last axis {length}, got shape {arr.shape}")
    finite = np.isfinite(arr)
    bad = ~finite.all(axis=-1)
    if bad.any():
        arr = np.where(finite, arr, np.float32(0.0))
    return arr, bad
