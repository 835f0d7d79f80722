#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Payload frames and images through the OFDM link, built in Python (tx -> air -> rx)."""

from __future__ import annotations

import time

import numpy as np
import pmt
from gnuradio import blocks, gr

from ..base.stream import frames_source
from ..ofdm_rx import ofdm_rx
from ..ofdm_tx import ofdm_tx
from ..phy.impairments import Impairments
from .run import finish, run_until_quiet

from semcom_core.units import noise_var_from_snr_db


def _collect(sink, len_key="packet_len") -> list:
    """``(symbols, {tag: value})`` per frame from a vector sink fed by ``ofdm_rx``."""
    data = np.asarray(sink.data(), dtype=np.complex64)
    by_offset: dict = {}
    for t in sink.tags():
        key = pmt.symbol_to_string(t.key)
        try:
            by_offset.setdefault(t.offset, {})[key] = pmt.to_python(t.value)
        except Exception:  # noqa: BLE001 - tags of unknown type are skipped
            continue
    frames = []
    for offset in sorted(by_offset):
        tags = by_offset[offset]
        if len_key in tags:
            frames.append((data[offset: offset + int(tags[len_key])], tags))
    return frames


def run_frames(frames, frame_tags=None, impairments: Impairments = Impairments(), fft_len=64, cp_len=16,
               amplitude=1.0, timeout_s=30.0, lead_in=0, samples_hook=None):
    """Send payload frames through ofdm_tx -> impairments -> ofdm_rx.

    Args:
        frames: complex arrays, one per frame; ``frame_tags``: a dict of tags per frame (``index``,
            ``q``, ``end``, ``z_min``, ``z_max``, ``bundle_id``) or None.
        lead_in: zero samples in front of the first burst (a receiver switched on before the sender).
        samples_hook: ``f(samples) -> samples`` applied to the transmitted samples (after the
            impairments) before the receiver, e.g. to damage chosen bursts; the run then goes in two
            steps through a recording.

    Returns ``(received, rx)``: ``[(symbols, tags), ...]`` in order of arrival, and the receiver block
    (its counters).
    """
    expected = len(frames)
    src = frames_source(frames, frame_tags)
    tx = ofdm_tx(fft_len, cp_len, amplitude)
    air = impairments.blocks(tx.layout, amplitude)
    rx = ofdm_rx(fft_len, cp_len)
    sink = blocks.vector_sink_c()
    tb = gr.top_block()
    if samples_hook is None and not lead_in:
        tb.connect(src, tx, *air, rx, sink)
    else:   # record, edit, play back
        rec = blocks.vector_sink_c()
        first = gr.top_block()
        first.connect(src, tx, *air, rec)
        first.run()
        samples = np.asarray(rec.data(), dtype=np.complex64)
        if samples_hook is not None:
            samples = np.asarray(samples_hook(samples), dtype=np.complex64)
        samples = np.concatenate([np.zeros(int(lead_in), np.complex64), samples])
        playback = blocks.vector_source_c(samples.tolist(), False)
        tb.connect(playback, rx, sink)
    tb.start()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and rx.frames() + rx.dropped() < expected:
        time.sleep(0.01)
    time.sleep(0.05)
    tb.stop()
    tb.wait()
    return _collect(sink), rx


class ofdm_image_link(gr.top_block):
    """Images through a transceiver over the OFDM link, scored by ``metrics_sink``.

    ``scheme="semantic"``: ``mijscc_tx`` / ``mijscc_rx`` with the side information in the OFDM header
    (``quant_bits``, ``adaptive``, ``noise_var`` as for ``mijscc_tx``; the transmitter's noise variance
    defaults to the link's SNR). ``scheme="digital"``: ``digital_tx`` / ``digital_rx`` with the keyword
    arguments in ``digital`` (codec, family, rate, qam, n, channel_uses). Attributes: ``source``,
    ``tx``, ``otx``, ``air``, ``orx``, ``rx``, ``sink``.
    """

    def __init__(self, bundle, num_images=100, impairments: Impairments = Impairments(), scheme="semantic",
                 quant_bits=-1, adaptive=True, noise_var=0.0, digital=None, fft_len=64, cp_len=16, amplitude=1.0,
                 out_path="", start_index=0, max_batch=64, channel_label="ofdm", phy="ofdm", max_burst=32):
        gr.top_block.__init__(self, "semcom_ofdm_image_link")
        if phy not in ("ofdm", "symbols"):
            raise ValueError(f"phy must be 'ofdm' or 'symbols', got {phy!r}")
        inline = phy == "symbols"     # the symbol-level reference: semcom's AWGN channel block, no OFDM
        from ..digital_rx import digital_rx
        from ..digital_tx import digital_tx
        from ..image_source import image_source
        from ..metrics_sink import metrics_sink
        from ..mijscc_rx import mijscc_rx
        from ..mijscc_tx import mijscc_tx

        bundle = str(bundle)
        self.source = image_source(bundle, "test", int(num_images), int(start_index))
        if scheme == "semantic":
            if noise_var <= 0 and impairments.snr_db is not None:
                noise_var = noise_var_from_snr_db(impairments.snr_db)
            self.tx = mijscc_tx(bundle, quant_bits, adaptive, noise_var, max_batch, "packet_len", 1, inline)
            self.rx = mijscc_rx(bundle, quant_bits, max_batch, "packet_len", 2, inline)
            method = ""
        elif scheme == "digital":
            kwargs = dict(digital or {})
            self.tx = digital_tx(bundle_path=bundle, **kwargs)
            self.rx = digital_rx(bundle_path=bundle, **kwargs)
            self.msg_connect(self.tx, "lost", self.rx, "lost")
            method = f"{kwargs.get('codec', 'bpg')}+ldpc"
        else:
            raise ValueError(f"scheme must be 'semantic' or 'digital', got {scheme!r}")
        snr = float("nan") if impairments.snr_db is None else float(impairments.snr_db)
        self.sink = metrics_sink(bundle, str(out_path), channel_label, snr, self.source.num_images(), method)
        self.msg_connect(self.source, "pdu", self.tx, "pdu")
        self.msg_connect(self.source, "pdu", self.sink, "ref")
        if phy == "ofdm":
            self.otx = ofdm_tx(fft_len, cp_len, amplitude, max_burst=int(max_burst))
            self.air = impairments.blocks(self.otx.layout, amplitude)
            self.orx = ofdm_rx(fft_len, cp_len)
            self.connect(self.tx, self.otx, *self.air, self.orx, self.rx)
        else:
            from ..channel import channel

            self.otx = self.orx = None
            self.air = [channel("awgn", 100.0 if impairments.snr_db is None else snr, seed=impairments.seed)]
            self.connect(self.tx, *self.air, self.rx)
        self.msg_connect(self.rx, "pdu", self.sink, "rx")

    def accounted(self) -> int:
        """Images the receiver side has answered for: scored, or lost in the air (failed header)."""
        return self.sink.count() + (self.orx.dropped() if self.orx else 0) + self.rx.dropped()


def run_image_link(bundle, num_images=100, impairments: Impairments = Impairments(), timeout_s=300.0,
                   idle_s=2.0, **kwargs) -> dict:
    """Run :class:`ofdm_image_link` until every image is scored or lost, or the transmitter has sent
    everything and nothing more arrived for ``idle_s`` (frames the receiver never detected), or the
    deadline; returns the
    metrics summary plus ``complete``, ``elapsed_s``, ``images_per_s``, ``frames_lost`` (failed headers
    and frames the receiver dropped), ``drop_reasons``, ``snr_est_db`` (mean estimated SNR),
    ``samples`` (transmitted, gaps included) and ``samples_per_image``."""
    tb = ofdm_image_link(bundle, num_images, impairments, **kwargs)
    total = tb.source.num_images()
    elapsed = run_until_quiet(tb, tb.accounted, total,
                              lambda: tb.otx is None or tb.otx.sent() + tb.otx.dropped() >= total, timeout_s, idle_s)
    summary = finish(tb.sink, elapsed)
    summary["complete"] = tb.accounted() >= total
    orx_dropped = tb.orx.dropped() if tb.orx else 0
    summary["frames_lost"] = orx_dropped + tb.rx.dropped()
    summary["frames_missed"] = max(0, total - tb.accounted())     # never detected by the receiver
    reasons = tb.orx.drop_reasons() if tb.orx else {}
    for key, count in tb.rx.drop_reasons().items():
        reasons[key] = reasons.get(key, 0) + count
    summary["drop_reasons"] = reasons
    snrs = tb.orx.snr_estimates() if tb.orx else []
    summary["snr_est_db"] = float(np.mean(snrs)) if snrs else float("nan")
    if tb.otx is not None:
        summary["samples"] = tb.otx.samples_sent()
        summary["samples_per_image"] = summary["samples"] / max(1, tb.otx.sent())
    return summary
