#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio's gr-fec LDPC decoder beside the library's, for ``semcom bench ldpc``."""

from __future__ import annotations

import math
import os
import tempfile
import time

import numpy as np

from semcom_core.experiments.bench_ldpc import decoder_row, write_alist

__all__ = ["GrFecLDPC", "gr_fec_row"]


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

    def __init__(self, code, max_iter: int, threads: int = 2, seed: int = 0):
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


def gr_fec_row(code, llr: np.ndarray, words: np.ndarray, max_iter: int, seed: int) -> dict:
    """The gr-fec decoder's row of the benchmark (``bench_ldpc``'s ``more_decoders``)."""
    name = "GNU Radio gr-fec LDPC"
    try:
        decoder = GrFecLDPC(code, max_iter, seed=seed)
    except ImportError as err:
        return {"decoder": name, "error": f"GNU Radio not importable ({err})"}
    except RuntimeError as err:
        return {"decoder": name, "error": str(err)}
    bits, seconds = decoder.decode(llr)
    errors = (bits != words[:, decoder.positions]).any(axis=1)
    return decoder_row(name, errors, seconds, code.k, float("nan"))
