#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Recording the samples of an OFDM transmission as a SigMF capture, and replaying a capture through the
OFDM receiver: what a radio recorded can be decoded again, offline, as often as wanted.

    meta = running.record_capture("bundles/a-mijscc-fmnist-8bit", "captures/amijscc", num_images=16)
    summary = running.replay_capture("captures/amijscc", "bundles/a-mijscc-fmnist-8bit")
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from gnuradio import blocks, gr

from semcom_core.link.air.sigmf_io import CaptureError, read_capture, write_capture
from semcom_core.units import noise_var_from_snr_db

from ..phy.impairments import Impairments
from .ofdm import _wait_ofdm
from .run import finish

__all__ = ["record_capture", "replay_capture"]

#: zero samples after a replayed capture, so that the receiver's search window covers its last burst
TAIL_SAMPLES = 4096


class _recorder(gr.top_block):
    """image source -> mijscc_tx -> ofdm_tx -> (impairments) -> vector sink."""

    def __init__(self, bundle, num_images, start_index, impairments, fft_len, cp_len, amplitude, mask_snr_db):
        gr.top_block.__init__(self, "semcom_capture_recorder")
        from ..image_source import image_source
        from ..mijscc_tx import mijscc_tx
        from ..ofdm_tx import ofdm_tx

        self.source = image_source(str(bundle), "test", int(num_images), int(start_index))
        self.tx = mijscc_tx(str(bundle), -1, True, noise_var_from_snr_db(mask_snr_db), 64, "packet_len", 1, False)
        self.otx = ofdm_tx(fft_len, cp_len, amplitude)
        self.air = impairments.blocks(self.otx.layout, amplitude)
        self.samples = blocks.vector_sink_c()
        self.msg_connect(self.source, "pdu", self.tx, "pdu")
        self.connect(self.tx, self.otx, *self.air, self.samples)


class _replayer(gr.top_block):
    """capture samples -> ofdm_rx -> mijscc_rx -> metrics sink (references from the image source)."""

    def __init__(self, samples, bundle, num_images, start_index, fft_len, cp_len, out_path):
        gr.top_block.__init__(self, "semcom_capture_replay")
        from ..image_source import image_source
        from ..metrics_sink import metrics_sink
        from ..mijscc_rx import mijscc_rx
        from ..ofdm_rx import ofdm_rx

        self.source = image_source(str(bundle), "test", int(num_images), int(start_index))
        self.replay = blocks.vector_source_c(samples.tolist(), False)
        self.orx = ofdm_rx(fft_len, cp_len)
        self.rx = mijscc_rx(str(bundle), -1, 64, "packet_len", 2, False)
        self.sink = metrics_sink(str(bundle), str(out_path), "sigmf-replay", float("nan"), self.source.num_images())
        self.connect(self.replay, self.orx, self.rx)
        self.msg_connect(self.source, "pdu", self.sink, "ref")
        self.msg_connect(self.rx, "pdu", self.sink, "rx")


def record_capture(bundle, path, num_images: int = 16, start_index: int = 0, impairments: Impairments = Impairments(),
                   fft_len: int = 64, cp_len: int = 16, amplitude: float = 1.0, mask_snr_db: float = 20.0,
                   sample_rate: float = 1e6, timeout_s: float = 120.0, description: str = "") -> Path:
    """Send ``num_images`` test images of the bundle's dataset through the OFDM transmitter (and
    ``impairments``), record the samples as the SigMF capture ``path``; returns its ``.sigmf-meta``."""
    from semcom_core.bundles import load_bundle

    tb = _recorder(bundle, num_images, start_index, impairments, fft_len, cp_len, amplitude, mask_snr_db)
    total = tb.source.num_images()
    tb.start()
    try:
        why = _wait_ofdm(tb, idle_s=0.5, deadline=time.monotonic() + float(timeout_s))
    finally:
        tb.stop()
        tb.wait()
    if why == "timeout":
        raise TimeoutError(f"the transmitter sent {tb.otx.sent()} of {total} images within {timeout_s:g} s")
    card = load_bundle(bundle).card
    return write_capture(path, np.asarray(tb.samples.data(), dtype=np.complex64), sample_rate,
                         description or f"{total} {card.get('method')} images through the semcom OFDM burst PHY",
                         bundle=Path(str(bundle)).name, bundle_id=int(tb.tx.bundle_id), num_images=int(total),
                         start_index=int(start_index), fft_len=int(fft_len), cp_len=int(cp_len),
                         amplitude=float(amplitude), mask_snr_db=float(mask_snr_db),
                         snr_db=float("nan") if impairments.snr_db is None else float(impairments.snr_db),
                         cfo=float(impairments.cfo))


def replay_capture(path, bundle, out_path: str = "", timeout_s: float = 120.0, idle_s: float = 2.0) -> dict:
    """Decode a SigMF capture made by :func:`record_capture` (or a radio recording in the same burst format)
    with ``bundle``: the metrics summary (as :func:`~.run_loopback`) plus ``frames`` decoded by the OFDM
    receiver, ``dropped`` (lost in the air or refused, by reason) and ``capture`` (its semcom fields)."""
    samples, info = read_capture(path)
    for key in ("num_images", "fft_len", "cp_len"):
        if key not in info:
            raise CaptureError(f"SigMF capture {path} lacks semcom:{key} (not a semcom burst recording)")
    samples = np.concatenate([samples, np.zeros(TAIL_SAMPLES, np.complex64)])
    tb = _replayer(samples, bundle, info["num_images"], info.get("start_index", 0), int(info["fft_len"]),
                   int(info["cp_len"]), out_path)
    total = tb.source.num_images()
    t0 = time.perf_counter()
    tb.start()
    try:
        _wait_ofdm(tb, idle_s, time.monotonic() + float(timeout_s))
        elapsed = time.perf_counter() - t0
    finally:
        tb.stop()
        tb.wait()
    summary = finish(tb.sink, elapsed)
    summary.update(frames=tb.orx.frames(), dropped={"ofdm_rx": tb.orx.drop_reasons(), "rx": tb.rx.drop_reasons()},
                   capture=info, expected=total)
    return summary
