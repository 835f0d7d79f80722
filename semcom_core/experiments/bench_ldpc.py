"""`semcom bench ldpc`: one WiMAX LDPC code, the same LLRs, several decoders.

Random information bits are encoded, sent as BPSK over AWGN at an Eb/N0 near the
waterfall, and the same LLRs go to the layered min-sum decoder (numba), Sionna's
flooding BP decoder (CPU) and any further decoders the caller brings (the GNU Radio
module adds gr-fec's, ``gnuradio.semcom.bench.ldpc``), all on the same parity-check
matrix. Each decoder's time covers decoding only (Sionna on 1 or all torch threads,
whichever decodes a small batch faster: on busy cores its two threads can be many times
slower than one).
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
import scipy.sparse as sp

from ..baselines.codes import minsum
from ..baselines.codes.wimax import WimaxLDPC
from ..units import db_to_linear

__all__ = ["bench_ldpc", "decoder_row", "format_ldpc_table", "default_snr_db", "write_alist"]

# Eb/N0 (dB) where the 20-iteration min-sum decoder's frame error rate is a few percent at n = 2304;
# shorter codes need about 0.2 dB more per halving of n.
_WATERFALL_DB = {"1/2": 1.5, "2/3A": 2.1, "2/3B": 2.25, "3/4A": 2.75, "3/4B": 2.6, "5/6": 3.3}


def default_snr_db(rate: str, n: int) -> float:
    """An Eb/N0 near the waterfall of the WiMAX code ``(rate, n)``."""
    code_rate = WimaxLDPC(rate, n).rate_name
    return round(_WATERFALL_DB[code_rate] + 0.2 * math.log2(2304 / n), 2)


def write_alist(H: sp.spmatrix, path: str) -> None:
    """Write a binary parity-check matrix in MacKay's alist format (1-based indices, one line per column/row)."""
    by_col, by_row = sp.csc_matrix(H), sp.csr_matrix(H)
    m, n = H.shape
    col_w, row_w = np.diff(by_col.indptr), np.diff(by_row.indptr)
    lines = [f"{n} {m}", f"{col_w.max()} {row_w.max()}", " ".join(map(str, col_w)), " ".join(map(str, row_w))]
    lines += [" ".join(map(str, by_col.indices[by_col.indptr[j]:by_col.indptr[j + 1]] + 1)) for j in range(n)]
    lines += [" ".join(map(str, by_row.indices[by_row.indptr[i]:by_row.indptr[i + 1]] + 1)) for i in range(m)]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def decoder_row(decoder: str, frame_errors: np.ndarray, seconds: float, k: int, iterations: float) -> dict:
    frames = frame_errors.size
    return {"decoder": decoder, "seconds": seconds, "mbit_s": frames * k / seconds / 1e6,
            "frame_errors": int(frame_errors.sum()), "frames": frames, "fer": float(frame_errors.mean()),
            "mean_iterations": float(iterations)}


def _timed_decode(code: WimaxLDPC, llr: np.ndarray):
    code.decode(llr[:8])                              # compile / build outside the timing
    started = time.perf_counter()
    result = code.decode(llr)
    return result, time.perf_counter() - started


def _pick_torch_threads(code: WimaxLDPC, llr: np.ndarray) -> int:
    """Set torch to whichever of 1 or all threads decodes ``llr`` faster and return it.

    On cores other processes also use, Sionna's two threads can be many times slower than one.
    """
    import torch

    timings = {}
    for threads in sorted({1, torch.get_num_threads()}):
        torch.set_num_threads(threads)
        timings[threads] = _timed_decode(code, llr)[1]
    best = min(timings, key=timings.get)
    torch.set_num_threads(best)
    return best


def bench_ldpc(rate: str = "1/2", n: int = 2304, batch: int = 1000, snr_db: float | None = None,
               max_iter: int = 20, seed: int = 0, more_decoders=()) -> dict:
    """Throughput and frame error rate of three decoders on the same LLRs.

    Args:
        rate, n: the WiMAX code.
        batch: frames (all decoders get all of them).
        snr_db: Eb/N0 in dB of BPSK over AWGN; default :func:`default_snr_db`.
        max_iter: most iterations of every decoder (Sionna always runs them all).
        seed: seed of the bits and the noise.
        more_decoders: further decoders, each a function ``(code, llr, codewords, max_iter, seed) -> row``
            (:func:`decoder_row`, or ``{"decoder": name, "error": why}`` when it cannot run).
    """
    import torch

    fast = WimaxLDPC(rate, n, decoder="minsum", max_iter=max_iter)
    snr_db = default_snr_db(rate, n) if snr_db is None else float(snr_db)
    load_before = os.getloadavg()[0]
    rng = np.random.default_rng(seed)
    info = rng.integers(0, 2, (batch, fast.k), dtype=np.uint8)
    words = fast.encode(info)
    sigma = math.sqrt(1.0 / (2.0 * fast.rate * db_to_linear(snr_db)))
    llr = (2.0 / sigma ** 2 * ((1.0 - 2.0 * words) + sigma * rng.standard_normal(words.shape))).astype(np.float32)

    sionna = WimaxLDPC(rate, n, decoder="sionna-bp", max_iter=max_iter)
    torch_threads = torch.get_num_threads()
    rows = []
    try:
        chosen_threads = _pick_torch_threads(sionna, llr[:64])
        for name, decoder in (("layered min-sum (numba)", fast), ("Sionna BP (flooding)", sionna)):
            result, seconds = _timed_decode(decoder, llr)
            rows.append(decoder_row(name, (result.bits != info).any(axis=1), seconds, fast.k, result.iterations.mean()))
    finally:
        torch.set_num_threads(torch_threads)
    for decoder in more_decoders:
        rows.append(decoder(fast, llr, words, max_iter, seed))
    reference = rows[1]["mbit_s"]
    for row in rows:
        if "mbit_s" in row:
            row["vs_sionna"] = row["mbit_s"] / reference
    return {"code": f"WiMAX rate {fast.rate_name}", "rate": fast.rate_name, "k": fast.k, "n": fast.n,
            "ebn0_db": snr_db, "modulation": "BPSK", "frames": batch, "max_iter": max_iter,
            "alpha": fast.alpha, "seed": seed, "cpu_count": os.cpu_count(), "min_sum_threads": minsum.THREADS,
            "torch_threads": chosen_threads, "load_average": load_before, "results": rows}


def format_ldpc_table(result: dict) -> str:
    """The printed table of :func:`bench_ldpc`."""
    lines = [f"bench ldpc: {result['code']} (k={result['k']}, n={result['n']}), {result['modulation']} over AWGN "
             f"at Eb/N0 {result['ebn0_db']:.2f} dB, {result['frames']} frames, at most {result['max_iter']} "
             f"iterations, min-sum alpha {result['alpha']}",
             f"{result['cpu_count']} CPU cores (load average {result['load_average']:.1f} before the run), "
             f"min-sum {result['min_sum_threads']} threads, Sionna (torch) {result['torch_threads']}, "
             f"gr-fec (when there) 2 decoders",
             f"{'decoder':<26}{'Mbit/s':>9}{'vs Sionna':>11}{'FER':>9}{'errors':>9}{'mean iter':>11}"]
    for row in result["results"]:
        if "error" in row:
            lines.append(f"{row['decoder']:<26}{'n/a':>9}  ({row['error']})")
            continue
        iters = "-" if math.isnan(row["mean_iterations"]) else f"{row['mean_iterations']:.1f}"
        lines.append(f"{row['decoder']:<26}{row['mbit_s']:>9.3f}{row['vs_sionna']:>10.1f}x{row['fer']:>9.4f}"
                     f"{row['frame_errors']:>9d}{iters:>11}")
    return "\n".join(lines)
