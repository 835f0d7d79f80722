"""IEEE 802.16e (WiMAX) quasi-cyclic LDPC codes.

Base matrices from IEEE Std 802.16e-2005, 8.4.9.2.5.1 (also IEEE Std 802.16-2009,
8.4.9.2.5): 24 block columns, ``-1`` a zero block, ``p >= 0`` the ``Z x Z``
identity cyclically shifted by the scaled value (row ``z`` has its one in column
``(z + shift) mod Z``). The standard lists the shifts for ``Z0 = 96``
(n = 2304); for ``n = 24 Z`` they scale as ``floor(p Z / 96)``, except rate 2/3A
which uses ``p mod Z``. Codewords are systematic: information bits first.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import ChannelCode, DecodeResult, check_bits, sanitize_llr
from .minsum import QCGraph, decode_layered

__all__ = ["WimaxLDPC", "LENGTHS", "RATES", "base_matrix", "shift_table", "parity_check_matrix"]

LENGTHS = tuple(range(576, 2305, 96))
_NB = 24
_Z0 = 96

_BASE_TEXT = {
    "1/2": """
        -1 94 73 -1 -1 -1 -1 -1 55 83 -1 -1  7  0 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1
        -1 27 -1 -1 -1 22 79  9 -1 -1 -1 12 -1  0  0 -1 -1 -1 -1 -1 -1 -1 -1 -1
        -1 -1 -1 24 22 81 -1 33 -1 -1 -1  0 -1 -1  0  0 -1 -1 -1 -1 -1 -1 -1 -1
        61 -1 47 -1 -1 -1 -1 -1 65 25 -1 -1 -1 -1 -1  0  0 -1 -1 -1 -1 -1 -1 -1
        -1 -1 39 -1 -1 -1 84 -1 -1 41 72 -1 -1 -1 -1 -1  0  0 -1 -1 -1 -1 -1 -1
        -1 -1 -1 -1 46 40 -1 82 -1 -1 -1 79  0 -1 -1 -1 -1  0  0 -1 -1 -1 -1 -1
        -1 -1 95 53 -1 -1 -1 -1 -1 14 18 -1 -1 -1 -1 -1 -1 -1  0  0 -1 -1 -1 -1
        -1 11 73 -1 -1 -1  2 -1 -1 47 -1 -1 -1 -1 -1 -1 -1 -1 -1  0  0 -1 -1 -1
        12 -1 -1 -1 83 24 -1 43 -1 -1 -1 51 -1 -1 -1 -1 -1 -1 -1 -1  0  0 -1 -1
        -1 -1 -1 -1 -1 94 -1 59 -1 -1 70 72 -1 -1 -1 -1 -1 -1 -1 -1 -1  0  0 -1
        -1 -1  7 65 -1 -1 -1 -1 39 49 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1  0  0
        43 -1 -1 -1 -1 66 -1 41 -1 -1 -1 26  7 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1  0""",
    "2/3A": """
         3  0 -1 -1  2  0 -1  3  7 -1  1  1 -1 -1 -1 -1  1  0 -1 -1 -1 -1 -1 -1
        -1 -1  1 -1 36 -1 -1 34 10 -1 -1 18  2 -1  3  0 -1  0  0 -1 -1 -1 -1 -1
        -1 -1 12  2 -1 15 -1 40 -1  3 -1 15 -1  2 13 -1 -1 -1  0  0 -1 -1 -1 -1
        -1 -1 19 24 -1  3  0 -1  6 -1 17 -1 -1 -1  8 39 -1 -1 -1  0  0 -1 -1 -1
        20 -1  6 -1 -1 10 29 -1 -1 28 -1 14 -1 38 -1 -1  0 -1 -1 -1  0  0 -1 -1
        -1 -1 10 -1 28 20 -1 -1  8 -1 36 -1  9 -1 21 45 -1 -1 -1 -1 -1  0  0 -1
        35 25 -1 37 -1 21 -1 -1  5 -1 -1  0 -1  4 20 -1 -1 -1 -1 -1 -1 -1  0  0
        -1  6  6 -1 -1 -1  4 -1 14 30 -1  3 36 -1 14 -1  1 -1 -1 -1 -1 -1 -1  0""",
    "2/3B": """
         2 -1 19 -1 47 -1 48 -1 36 -1 82 -1 47 -1 15 -1 95  0 -1 -1 -1 -1 -1 -1
        -1 69 -1 88 -1 33 -1  3 -1 16 -1 37 -1 40 -1 48 -1  0  0 -1 -1 -1 -1 -1
        10 -1 86 -1 62 -1 28 -1 85 -1 16 -1 34 -1 73 -1 -1 -1  0  0 -1 -1 -1 -1
        -1 28 -1 32 -1 81 -1 27 -1 88 -1  5 -1 56 -1 37 -1 -1 -1  0  0 -1 -1 -1
        23 -1 29 -1 15 -1 30 -1 66 -1 24 -1 50 -1 62 -1 -1 -1 -1 -1  0  0 -1 -1
        -1 30 -1 65 -1 54 -1 14 -1  0 -1 30 -1 74 -1  0 -1 -1 -1 -1 -1  0  0 -1
        32 -1  0 -1 15 -1 56 -1 85 -1  5 -1  6 -1 52 -1  0 -1 -1 -1 -1 -1  0  0
        -1  0 -1 47 -1 13 -1 61 -1 84 -1 55 -1 78 -1 41 95 -1 -1 -1 -1 -1 -1  0""",
    "3/4A": """
         6 38  3 93 -1 -1 -1 30 70 -1 86 -1 37 38  4 11 -1 46 48  0 -1 -1 -1 -1
        62 94 19 84 -1 92 78 -1 15 -1 -1 92 -1 45 24 32 30 -1 -1  0  0 -1 -1 -1
        71 -1 55 -1 12 66 45 79 -1 78 -1 -1 10 -1 22 55 70 82 -1 -1  0  0 -1 -1
        38 61 -1 66  9 73 47 64 -1 39 61 43 -1 -1 -1 -1 95 32  0 -1 -1  0  0 -1
        -1 -1 -1 -1 32 52 55 80 95 22  6 51 24 90 44 20 -1 -1 -1 -1 -1 -1  0  0
        -1 63 31 88 20 -1 -1 -1  6 40 56 16 71 53 -1 -1 27 26 48 -1 -1 -1 -1  0""",
    "3/4B": """
        -1 81 -1 28 -1 -1 14 25 17 -1 -1 85 29 52 78 95 22 92  0  0 -1 -1 -1 -1
        42 -1 14 68 32 -1 -1 -1 -1 70 43 11 36 40 33 57 38 24 -1  0  0 -1 -1 -1
        -1 -1 20 -1 -1 63 39 -1 70 67 -1 38  4 72 47 29 60  5 80 -1  0  0 -1 -1
        64  2 -1 -1 63 -1 -1  3 51 -1 81 15 94  9 85 36 14 19 -1 -1 -1  0  0 -1
        -1 53 60 80 -1 26 75 -1 -1 -1 -1 86 77  1  3 72 60 25 -1 -1 -1 -1  0  0
        77 -1 -1 -1 15 28 -1 35 -1 72 30 68 85 84 26 64 11 89  0 -1 -1 -1 -1  0""",
    "5/6": """
         1 25 55 -1 47  4 -1 91 84  8 86 52 82 33  5  0 36 20  4 77 80  0 -1 -1
        -1  6 -1 36 40 47 12 79 47 -1 41 21 12 71 14 72  0 44 49  0  0  0  0 -1
        51 81 83  4 67 -1 21 -1 31 24 91 61 81  9 86 78 60 88 67 15 -1 -1  0  0
        50 -1 50 15 -1 36 13 10 11 20 53 90 29 92 57 30 84 92 11 66 80 -1 -1  0""",
}

# Accepted rate names -> the standard's code; plain 2/3 and 3/4 mean the A codes.
RATES = {"1/2": "1/2", "2/3": "2/3A", "2/3A": "2/3A", "2/3B": "2/3B",
         "3/4": "3/4A", "3/4A": "3/4A", "3/4B": "3/4B", "5/6": "5/6"}


def _canonical_rate(rate: str) -> str:
    key = rate.strip().upper() if isinstance(rate, str) else None
    if key not in RATES:
        raise ValueError(f"unknown WiMAX rate {rate!r}; choose one of {', '.join(RATES)}")
    return RATES[key]


def _check_length(n: int) -> int:
    if n not in LENGTHS:
        raise ValueError(f"WiMAX LDPC length must be one of 576, 672, ..., 2304 (step 96), got {n!r}")
    return int(n)


def base_matrix(rate: str) -> np.ndarray:
    """The standard's base matrix (shifts for Z0 = 96, ``-1`` = zero block), ``int [mb, 24]``."""
    return np.array(_BASE_TEXT[_canonical_rate(rate)].split(), dtype=np.int64).reshape(-1, _NB)


def shift_table(rate: str, n: int) -> np.ndarray:
    """Shifts for codeword length ``n`` (``Z = n / 24``) with the standard's scaling."""
    z = _check_length(n) // _NB
    base = base_matrix(rate)
    scaled = base % z if _canonical_rate(rate) == "2/3A" else (base * z) // _Z0
    return np.where(base < 0, -1, scaled)


def _expand(shifts: np.ndarray, z: int) -> sp.csr_matrix:
    """Binary parity-check matrix of a shift table."""
    rows, cols = np.nonzero(shifts >= 0)
    zz = np.arange(z)
    r = (rows[:, None] * z + zz).ravel()
    c = (cols[:, None] * z + (zz + shifts[rows, cols][:, None]) % z).ravel()
    mb, nb = shifts.shape
    return sp.csr_matrix((np.ones(r.size, np.uint8), (r, c)), shape=(mb * z, nb * z))


def parity_check_matrix(rate: str, n: int) -> sp.csr_matrix:
    """``uint8`` CSR parity-check matrix ``[n - k, n]``."""
    return _expand(shift_table(rate, n), n // _NB)


class _DualDiagonalEncoder:
    """Systematic encoder for ``H = [H_s | h | staircase]`` (the 802.16e/802.11n parity structure).

    Row sums of ``H c = 0`` give ``T p0 = sum_i lambda_i`` with ``lambda_i`` the
    information part of row ``i`` and ``T`` the sum of column ``h``'s blocks,
    which for these codes reduces to one shifted identity; the staircase then
    yields the other parity blocks one by one.
    """

    def __init__(self, shifts: np.ndarray, z: int):
        mb, nb = shifts.shape
        self.z, self.kb, self.mb = z, nb - mb, mb
        stair = shifts[:, self.kb + 1:]
        expected = np.full((mb, mb - 1), -1)
        expected[np.arange(mb - 1), np.arange(mb - 1)] = 0
        expected[np.arange(1, mb), np.arange(mb - 1)] = 0
        if not np.array_equal(stair, expected):
            raise ValueError("parity part is not a dual-diagonal staircase")
        self.info = [[(j, s) for j, s in enumerate(row[:self.kb]) if s >= 0] for row in shifts]
        self.h = shifts[:, self.kb]
        values, counts = np.unique(self.h[self.h >= 0], return_counts=True)
        odd = values[counts % 2 == 1]
        if odd.size != 1:
            raise ValueError("the first parity column does not sum to a shifted identity")
        self.t = int(odd[0])

    def _shift(self, x: np.ndarray, s: int) -> np.ndarray:
        """``P^s x`` for a batch of ``Z``-blocks: element ``z`` becomes ``x[(z + s) mod Z]``."""
        return np.roll(x, -s, axis=-1)

    def __call__(self, u: np.ndarray) -> np.ndarray:
        z, kb = self.z, self.kb
        blocks = u.reshape(-1, kb, z)
        lam = np.zeros((blocks.shape[0], self.mb, z), np.uint8)
        for i, row in enumerate(self.info):
            for j, s in row:
                lam[:, i] ^= self._shift(blocks[:, j], s)
        p0 = self._shift(np.bitwise_xor.reduce(lam, axis=1), -self.t)    # solve P^t p0 = sum(lambda)
        parity = [p0]
        q = np.zeros_like(p0)
        for i in range(self.mb - 1):                                      # row i: lambda_i + h_i p0 + q_i + q_{i+1} = 0
            q = q ^ lam[:, i] ^ (self._shift(p0, self.h[i]) if self.h[i] >= 0 else 0)
            parity.append(q)
        return np.concatenate([u.reshape(-1, kb * z)] + parity, axis=1)


class WimaxLDPC(ChannelCode):
    """An IEEE 802.16e QC-LDPC code.

    Args:
        rate: "1/2", "2/3" (= "2/3A"), "2/3A", "2/3B", "3/4" (= "3/4A"), "3/4A", "3/4B" or "5/6".
        n: codeword length, 576 to 2304 in steps of 96.
        decoder: "minsum" (layered normalised min-sum, numba), "spa" (layered exact
            sum-product, numba) or "sionna-bp" (Sionna's flooding BP on the same H, the reference).
        max_iter: most decoder iterations.
        alpha, offset: min-sum normalisation factor and offset (0.8 and 0 measured best of
            0.7 to 0.85 and of offset min-sum at rates 1/2, 3/4 and 5/6).

    Attributes:
        base, shifts: the standard's base matrix and the shifts scaled for this ``n``.
        z: expansion factor ``n / 24``.
        H: ``uint8`` CSR parity-check matrix ``[n - k, n]``.
    """

    name = "wimax-ldpc"
    DECODERS = ("minsum", "spa", "sionna-bp")

    def __init__(self, rate: str = "1/2", n: int = 2304, decoder: str = "minsum", max_iter: int = 20,
                 alpha: float = 0.8, offset: float = 0.0):
        if decoder not in self.DECODERS:
            raise ValueError(f"unknown decoder {decoder!r}; choose one of {', '.join(self.DECODERS)}")
        if int(max_iter) < 0:
            raise ValueError("max_iter must be >= 0")
        self.rate_name = _canonical_rate(rate)
        self._n = _check_length(n)
        self.z = self._n // _NB
        self.base = base_matrix(self.rate_name)
        self.shifts = shift_table(self.rate_name, self._n)
        self.H = _expand(self.shifts, self.z)
        self._k = self._n - self.H.shape[0]
        self.decoder, self.max_iter, self.alpha, self.offset = decoder, int(max_iter), float(alpha), float(offset)
        self.graph = QCGraph(self.shifts, self.z)
        self._encoder = _DualDiagonalEncoder(self.shifts, self.z)
        self._sionna = None

    def encode(self, bits: np.ndarray) -> np.ndarray:
        u = check_bits(bits, self.k)
        return self._encoder(u).reshape(*u.shape[:-1], self.n)

    def syndrome_ok(self, codewords: np.ndarray) -> np.ndarray:
        """``bool [...]``: True where ``H c = 0 (mod 2)``."""
        c = check_bits(codewords, self.n, "codewords")
        flat = c.reshape(-1, self.n)
        synd = (self.H @ flat.T.astype(np.int32)) % 2
        return ~synd.any(axis=0).reshape(c.shape[:-1])

    def decode(self, llr: np.ndarray) -> DecodeResult:
        arr, bad = sanitize_llr(llr, self.n)
        lead = arr.shape[:-1]
        flat = arr.reshape(-1, self.n)
        if self.decoder == "sionna-bp":
            words, ok, iters = self._decode_sionna(flat)
        else:
            words, ok, iters = decode_layered(flat, self.graph, self.max_iter, self.alpha, self.offset,
                                              exact=self.decoder == "spa")
        ok = ok & ~bad.reshape(-1)
        return DecodeResult(bits=words[:, :self.k].reshape(*lead, self.k), ok=ok.reshape(lead),
                            iterations=iters.reshape(lead))

    def _decode_sionna(self, llr: np.ndarray):
        """Sionna's flooding BP (boxplus-phi); it runs all ``max_iter`` iterations."""
        import torch
        from sionna.phy.fec.ldpc import LDPCBPDecoder

        if self._sionna is None:
            self._sionna = LDPCBPDecoder(self.H, num_iter=self.max_iter, hard_out=True)
        with torch.no_grad():
            words = self._sionna(torch.from_numpy(-llr)).numpy().astype(np.uint8)   # Sionna takes logits ln P(1)/P(0)
        ok = self.syndrome_ok(words)
        return words, ok, np.full(llr.shape[0], self.max_iter, np.int32)

    def __repr__(self) -> str:
        return f"WimaxLDPC(rate={self.rate_name!r}, n={self.n}, k={self.k}, decoder={self.decoder!r})"
