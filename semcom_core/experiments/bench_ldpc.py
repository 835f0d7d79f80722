"""`semcom bench ldpc`: one WiMAX LDPC code, the same LLRs, three decoders.

Random information bits are encoded, sent as BPSK over AWGN at an Eb/N0 near the
waterfall, and the same LLRs go to the layered min-sum decoder (numba), Sionna's
flooding BP decoder (CPU) and GNU Radio's gr-fec LDPC decoder, both on the same
parity-check matrix. Each decoder's time covers decoding only: the call for the first
two (Sionna on 1 or all torch threads, whichever decodes a small batch faster: on busy
cores its two threads can be many times slower than one), the flowgraph's ``run()``
for gr-fec.
"""

from __future__ import annotations

import math
import os
import tempfile
import time

import numpy as np
import scipy.sparse as sp

from ..baselines.codes import minsum
from ..baselines.codes.wimax import WimaxLDPC

__all__ = ["bench_ldpc", "format_ldpc_table", "default_snr_db", "write_alist", "GrFecLDPC"]

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


class GrFecLDPC:
    """GNU Radio's gr-fec LDPC decoder (``fec.ldpc_decoder``, flooding sum-product) for a code's H.

    Input: ``ldpc_decoder`` negates its input, and the ``awgn_bp`` of GNU Radio 3.10.5 turns
    the result ``y`` into the likelihood ratio ``exp(-y / (2 sigma^2))``, so the LLR it works
    with is ``input / (2 sigma^2)`` with ``input = -llr``. Built with ``sigma^2 = 1/2``
    it gets exactly the channel LLRs (later versions take LLRs directly and ignore sigma,
    so the same call holds there). Passing the true noise sigma instead scales the
    LLRs by ``1 / (2 sigma^2)`` and costs it dearly.

    Output: the bits of an information set gr-fec chose by Gaussian elimination, not the
    first ``k``; :attr:`positions` (found by decoding noiseless codewords) says which
    codeword bits they are. Two decoder objects run side by side (``threading="capillary"``)
    so both cores work. Raises ImportError without GNU Radio.
    """

    def __init__(self, code: WimaxLDPC, max_iter: int, threads: int = 2, seed: int = 0):
        from gnuradio import fec

        self.code = code
        with tempfile.TemporaryDirectory(prefix="semcom-alist-") as folder:
            alist = os.path.join(folder, "code.alist")
            write_alist(code.H, alist)
            self._decoders = [fec.ldpc_decoder.make(alist, math.sqrt(0.5), int(max_iter)) for _ in range(threads)]
        if self._decoders[0].get_output_size() != code.k:
            raise RuntimeError(f"gr-fec sees dimension {self._decoders[0].get_output_size()}, not k={code.k}")
        self.positions = self._find_positions(seed)

    def _find_positions(self, seed: int, frames: int = 64) -> np.ndarray:
        """Codeword index of each output bit, from noiseless random codewords."""
        rng = np.random.default_rng(seed)
        words = self.code.encode(rng.integers(0, 2, (frames, self.code.k), dtype=np.uint8))
        out, _ = self.decode(np.where(words == 0, 10.0, -10.0).astype(np.float32))
        match = (out[:, :, None] == words[:, None, :]).all(axis=0)       # [k, n]: output i equals codeword bit j
        if not match.any(axis=1).all():
            raise RuntimeError("gr-fec output bits do not match codeword bits on noiseless input")
        return match.argmax(axis=1)

    def decode(self, llr: np.ndarray) -> tuple[np.ndarray, float]:
        """Decode ``float [B, n]`` LLRs; returns ``(bits uint8 [B, k], seconds of tb.run())``."""
        from gnuradio import blocks, fec, gr

        tb = gr.top_block()
        src = blocks.vector_source_f((-np.asarray(llr, np.float32)).ravel().tolist(), False)
        dec = fec.extended_decoder(decoder_obj_list=self._decoders, threading="capillary", ann=None,
                                   puncpat="11", integration_period=10000)
        sink = blocks.vector_sink_b()
        tb.connect(src, dec, sink)
        started = time.perf_counter()
        tb.run()
        seconds = time.perf_counter() - started
        return np.asarray(sink.data(), np.uint8).reshape(len(llr), self.code.k), seconds


def _row(decoder: str, frame_errors: np.ndarray, seconds: float, k: int, iterations: float) -> dict:
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
               max_iter: int = 20, seed: int = 0, gr_fec: bool = True) -> dict:
    """Throughput and frame error rate of three decoders on the same LLRs.

    Args:
        rate, n: the WiMAX code.
        batch: frames (all decoders get all of them).
        snr_db: Eb/N0 in dB of BPSK over AWGN; default :func:`default_snr_db`.
        max_iter: most iterations of every decoder (Sionna always runs them all).
        seed: seed of the bits and the noise.
        gr_fec: also run GNU Radio's decoder.
    """
    import torch

    fast = WimaxLDPC(rate, n, decoder="minsum", max_iter=max_iter)
    snr_db = default_snr_db(rate, n) if snr_db is None else float(snr_db)
    load_before = os.getloadavg()[0]
    rng = np.random.default_rng(seed)
    info = rng.integers(0, 2, (batch, fast.k), dtype=np.uint8)
    words = fast.encode(info)
    sigma = math.sqrt(1.0 / (2.0 * fast.rate * 10 ** (snr_db / 10)))
    llr = (2.0 / sigma ** 2 * ((1.0 - 2.0 * words) + sigma * rng.standard_normal(words.shape))).astype(np.float32)

    sionna = WimaxLDPC(rate, n, decoder="sionna-bp", max_iter=max_iter)
    torch_threads = torch.get_num_threads()
    rows = []
    try:
        chosen_threads = _pick_torch_threads(sionna, llr[:64])
        for name, decoder in (("layered min-sum (numba)", fast), ("Sionna BP (flooding)", sionna)):
            result, seconds = _timed_decode(decoder, llr)
            rows.append(_row(name, (result.bits != info).any(axis=1), seconds, fast.k, result.iterations.mean()))
    finally:
        torch.set_num_threads(torch_threads)
    if gr_fec:
        rows.append(_gr_fec_row(fast, llr, words, max_iter, seed))
    reference = rows[1]["mbit_s"]
    for row in rows:
        if "mbit_s" in row:
            row["vs_sionna"] = row["mbit_s"] / reference
    return {"code": f"WiMAX rate {fast.rate_name}", "rate": fast.rate_name, "k": fast.k, "n": fast.n,
            "ebn0_db": snr_db, "modulation": "BPSK", "frames": batch, "max_iter": max_iter,
            "alpha": fast.alpha, "seed": seed, "cpu_count": os.cpu_count(), "min_sum_threads": minsum.THREADS,
            "torch_threads": chosen_threads, "load_average": load_before, "results": rows}


def _gr_fec_row(code: WimaxLDPC, llr: np.ndarray, words: np.ndarray, max_iter: int, seed: int) -> dict:
    name = "GNU Radio gr-fec LDPC"
    try:
        decoder = GrFecLDPC(code, max_iter, seed=seed)
    except ImportError as err:
        return {"decoder": name, "error": f"GNU Radio not importable ({err})"}
    except RuntimeError as err:
        return {"decoder": name, "error": str(err)}
    bits, seconds = decoder.decode(llr)
    errors = (bits != words[:, decoder.positions]).any(axis=1)
    return _row(name, errors, seconds, code.k, float("nan"))


def format_ldpc_table(result: dict) -> str:
    """The printed table of :func:`bench_ldpc`."""
    lines = [f"bench ldpc: {result['code']} (k={result['k']}, n={result['n']}), {result['modulation']} over AWGN "
             f"at Eb/N0 {result['ebn0_db']:.2f} dB, {result['frames']} frames, at most {result['max_iter']} "
             f"iterations, min-sum alpha {result['alpha']}",
             f"{result['cpu_count']} CPU cores (load average {result['load_average']:.1f} before the run), "
             f"min-sum {result['min_sum_threads']} threads, Sionna (torch) {result['torch_threads']}, "
             f"gr-fec 2 decoders",
             f"{'decoder':<26}{'Mbit/s':>9}{'vs Sionna':>11}{'FER':>9}{'errors':>9}{'mean iter':>11}"]
    for row in result["results"]:
        if "error" in row:
            lines.append(f"{row['decoder']:<26}{'n/a':>9}  ({row['error']})")
            continue
        iters = "-" if math.isnan(row["mean_iterations"]) else f"{row['mean_iterations']:.1f}"
        lines.append(f"{row['decoder']:<26}{row['mbit_s']:>9.3f}{row['vs_sionna']:>10.1f}x{row['fer']:>9.4f}"
                     f"{row['frame_errors']:>9d}{iters:>11}")
    return "\n".join(lines)
