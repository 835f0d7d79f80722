"""Layered normalised min-sum decoding of quasi-cyclic LDPC codes, compiled with numba.

A QC code is given by its shift table ``shifts [mb, nb]`` (``-1``: zero block,
``s >= 0``: the ``Z x Z`` identity cyclically shifted so that row ``z`` has its
one in column ``(z + s) mod Z``) and the expansion factor ``Z``. Each block row
is one layer: its ``Z`` checks touch disjoint variables, so the decoder updates
them together, with the inner loops running over ``z`` (contiguous memory).

Messages follow semcom's convention ``llr = ln P(0)/P(1)``. The check-node
update is ``alpha * max(min - offset, 0)`` with the sign product (normalised
min-sum; ``offset > 0`` gives the offset variant), or the exact sum-product
rule (``exact=True``) through ``phi(x) = -ln tanh(x/2)``. Each codeword stops as
soon as its hard decisions satisfy every parity check.

Both cores work through a small thread pool running the ``nogil`` kernel on chunks
of the batch, not through ``prange``: numba's OpenMP threading layer brings a second
OpenMP runtime next to torch's, and with both in one process on 2 cores Sionna ran
5 to 15 times slower after the kernel had run; the workqueue layer aborts the
process when two threads (GNU Radio blocks) decode at once; TBB is not installed.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

__all__ = ["QCGraph", "decode_layered"]

_LLR_MAX = np.float32(1e4)    # LLRs are clipped here, far beyond any decision threshold
_BIG = np.float32(1e30)       # "no minimum yet" (finite: fastmath assumes no infinities)
_PHI_RANGE = (1e-12, 50.0)    # phi's argument is clipped to this (phi(1e-12) ~ 28.3, phi(50) ~ 4e-22)
# Threads that decode (the CPUs this process may use).
THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
_CHUNK = 16                   # codewords per task: small enough to balance cores another process also uses
_pool: ThreadPoolExecutor | None = None


class QCGraph:
    """The Tanner graph of a QC code as flat arrays the compiled kernels read.

    Edge blocks are the non-negative entries of ``shifts`` in row-major order:
    layer ``r`` owns blocks ``row_ptr[r]:row_ptr[r + 1]``, block ``e`` sits in
    block column ``cols[e]`` with shift ``offs[e]``.
    """

    def __init__(self, shifts: np.ndarray, z: int):
        shifts = np.asarray(shifts, dtype=np.int64)
        if shifts.ndim != 2 or z < 1 or shifts.max() >= z:
            raise ValueError("shifts must be a 2-D table of values in [-1, z)")
        rows, cols = np.nonzero(shifts >= 0)
        self.z = int(z)
        self.mb, self.nb = shifts.shape
        self.n = self.nb * self.z
        self.row_ptr = np.searchsorted(rows, np.arange(self.mb + 1)).astype(np.int64)
        self.cols = cols.astype(np.int64)
        self.offs = shifts[rows, cols].astype(np.int64)
        self.max_degree = int(np.diff(self.row_ptr).max())


def decode_layered(llr: np.ndarray, graph: QCGraph, max_iter: int = 20, alpha: float = 0.8,
                   offset: float = 0.0, exact: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode a batch of codewords.

    Args:
        llr: ``float32 [B, n]`` finite channel LLRs (positive: bit 0).
        graph: the code's :class:`QCGraph`.
        max_iter: most layered iterations per codeword (one iteration updates every layer once).
        alpha, offset: min-sum normalisation and offset (ignored when ``exact``).
        exact: use the sum-product check update instead of min-sum.

    Returns:
        ``(bits uint8 [B, n], ok bool [B], iterations int32 [B])``: hard decisions of the
        whole codeword, whether they satisfy every check, iterations run (0 when the
        channel decisions already formed a codeword).
    """
    llr = np.asarray(llr)
    if llr.ndim != 2 or llr.shape[1] != graph.n:
        raise ValueError(f"llr must have shape [B, {graph.n}], got {llr.shape}")
    llr = np.clip(llr, -_LLR_MAX, _LLR_MAX).astype(np.float32)
    batch = llr.shape[0]
    bits = np.empty(llr.shape, np.uint8)
    ok = np.empty(batch, np.bool_)
    iterations = np.empty(batch, np.int32)

    def run(start: int) -> None:
        _decode_range(llr, bits, ok, iterations, start, min(start + _CHUNK, batch), graph.row_ptr, graph.cols,
                      graph.offs, graph.z, graph.max_degree, int(max_iter), np.float32(alpha), np.float32(offset),
                      bool(exact))

    starts = range(0, batch, _CHUNK)
    if THREADS == 1 or batch <= _CHUNK:
        for start in starts:
            run(start)
    else:
        for future in [_thread_pool().submit(run, start) for start in starts]:
            future.result()
    return bits, ok, iterations


def _thread_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="semcom-ldpc")
    return _pool


def _forget_pool() -> None:
    """A forked child has none of the parent's pool threads: start a new pool there."""
    global _pool
    _pool = None


os.register_at_fork(after_in_child=_forget_pool)


@njit(cache=True, nogil=True)
def _decode_range(llr, bits, ok, iterations, lo, hi, row_ptr, cols, offs, z, max_degree, max_iter, alpha, offset,
                  exact):
    """Decode codewords ``lo:hi`` of the batch into ``bits``, ``ok`` and ``iterations`` (without the GIL)."""
    n = llr.shape[1]
    post = np.empty(n, np.float32)                            # posterior LLR of every bit
    c2v = np.empty(offs.size * z, np.float32)                 # check-to-variable messages, block e at [e*z:(e+1)*z]
    v2c = np.empty((max_degree, z), np.float32)               # variable-to-check messages of the current layer
    min1 = np.empty(z, np.float32)                            # per-check scratch of the layer updates
    min2 = np.empty(z, np.float32)
    phisum = np.empty(z, np.float64)
    parity = np.empty(z, np.uint8)
    for b in range(lo, hi):
        post[:] = llr[b]
        c2v[:] = 0.0
        # Iterate until every check is satisfied (early stop) or max_iter: one iteration = every layer once.
        it = 0
        done = _syndrome_ok(post, row_ptr, cols, offs, z, v2c, parity)
        while not done and it < max_iter:
            for layer in range(row_ptr.size - 1):
                start, stop = row_ptr[layer], row_ptr[layer + 1]
                if exact:
                    _layer_sum_product(post, c2v, v2c, phisum, parity, start, stop, cols, offs, z)
                else:
                    _layer_min_sum(post, c2v, v2c, min1, min2, parity, start, stop, cols, offs, z, alpha, offset)
            it += 1
            done = _syndrome_ok(post, row_ptr, cols, offs, z, v2c, parity)
        ok[b] = done
        iterations[b] = it
        for i in range(n):
            bits[b, i] = post[i] < 0


@njit(cache=True)
def _gather(post, col, shift, z, out, row):
    """``out[row, zz] = post[col*z + (zz + shift) mod z]``: the block's variables in check order."""
    head = col * z + shift - z                # post index of check zz once the index has wrapped
    for zz in range(z - shift):
        out[row, zz] = post[head + z + zz]
    for zz in range(z - shift, z):
        out[row, zz] = post[head + zz]


@njit(cache=True)
def _scatter(src, row, col, shift, z, post):
    """Inverse of :func:`_gather`: write ``src[row]`` (check order) back to the variables."""
    head = col * z + shift - z
    for zz in range(z - shift):
        post[head + z + zz] = src[row, zz]
    for zz in range(z - shift, z):
        post[head + zz] = src[row, zz]


@njit(cache=True)
def _syndrome_ok(post, row_ptr, cols, offs, z, buf, parity):
    """True when the hard decisions of ``post`` satisfy every parity check (``buf [1+, z]``, ``parity``: scratch)."""
    for layer in range(row_ptr.size - 1):
        parity[:] = 0
        for e in range(row_ptr[layer], row_ptr[layer + 1]):
            _gather(post, cols[e], offs[e], z, buf, 0)
            for zz in range(z):
                parity[zz] ^= buf[0, zz] < 0
        for zz in range(z):
            if parity[zz]:
                return False
    return True


@njit(cache=True, fastmath=True)
def _layer_min_sum(post, c2v, v2c, min1, min2, parity, start, stop, cols, offs, z, alpha, offset):
    """Update the ``z`` checks of one layer (edge blocks ``start:stop``) with normalised min-sum.

    Each loop over ``zz`` touches few arrays and has no branches, so that LLVM vectorises it.
    """
    min1[:] = _BIG                            # smallest |v2c| of each check
    min2[:] = _BIG                            # second smallest
    parity[:] = 0                             # parity of the negative v2c messages
    # Pass 1: v2c = posterior minus this layer's old c2v; track min1, min2 and the sign parity.
    for j in range(stop - start):
        e = start + j
        _gather(post, cols[e], offs[e], z, v2c, j)
        for zz in range(z):
            v2c[j, zz] -= c2v[e * z + zz]
        for zz in range(z):
            a = abs(v2c[j, zz])
            min2[zz] = min(min2[zz], max(min1[zz], a))
            min1[zz] = min(min1[zz], a)
        for zz in range(z):
            parity[zz] ^= v2c[j, zz] < 0
    # Pass 2: new c2v = (sign of the others) * alpha * max(min over the others - offset, 0);
    # the edge holding min1 gets min2 (on ties min1 == min2, so either is right). Posterior = v2c + new c2v.
    for j in range(stop - start):
        e = start + j
        for zz in range(z):
            q = v2c[j, zz]
            mag = min2[zz] if abs(q) == min1[zz] else min1[zz]
            mag = alpha * max(mag - offset, np.float32(0.0))
            r = -mag if parity[zz] ^ (q < 0) else mag
            c2v[e * z + zz] = r
            v2c[j, zz] = min(max(q + r, -_LLR_MAX), _LLR_MAX)
        _scatter(v2c, j, cols[e], offs[e], z, post)


@njit(cache=True, fastmath=True)
def _phi(x):
    """phi(x) = -ln tanh(x/2) = ln(1 + 2/(e^x - 1)), in float64; phi is its own inverse."""
    return np.log1p(2.0 / np.expm1(min(max(x, _PHI_RANGE[0]), _PHI_RANGE[1])))


@njit(cache=True, fastmath=True)
def _layer_sum_product(post, c2v, v2c, phisum, parity, start, stop, cols, offs, z):
    """Update the ``z`` checks of one layer with the exact sum-product rule."""
    phisum[:] = 0.0
    parity[:] = 0
    # Pass 1: v2c messages, the sum of phi(|v2c|) per check (float64: it is differenced) and the sign parity.
    for j in range(stop - start):
        e = start + j
        _gather(post, cols[e], offs[e], z, v2c, j)
        for zz in range(z):
            q = v2c[j, zz] - c2v[e * z + zz]
            v2c[j, zz] = q
            phisum[zz] += _phi(abs(q))
            parity[zz] ^= q < 0
    # Pass 2: c2v = sign of the others times phi(sum of phi over the others).
    for j in range(stop - start):
        e = start + j
        for zz in range(z):
            q = v2c[j, zz]
            mag = np.float32(_phi(phisum[zz] - _phi(abs(q))))
            r = -mag if parity[zz] ^ (q < 0) else mag
            c2v[e * z + zz] = r
            v2c[j, zz] = min(max(q + r, -_LLR_MAX), _LLR_MAX)
        _scatter(v2c, j, cols[e], offs[e], z, post)
