#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""OFDM burst receiver for semantic symbols: a sample stream in, equalised payload frames out."""

from __future__ import annotations

import collections

import numpy as np
import pmt
from gnuradio import gr

from .base.log import DropCounter, OnceLog
from .base.stream import set_min_output_buffer_quietly, write_frames
from .ofdm_tx import make_layout


class ofdm_rx(DropCounter, gr.basic_block):
    """OFDM baseband samples in (a continuous stream); payload frames (tagged stream of equalised complex
    symbols) out, one per image.

    The work is ``semcom_core.link.air.BurstReceiver``'s, per burst: preamble detection (autocorrelation,
    then coherent confirmation with carrier-offset aliases), one FFT call for the burst, channel estimate
    from the preamble and the decoded header, phase tracking, LDPC header and side-word decoding.

    Output tags on each frame's first symbol: ``packet_len``, ``index`` (sequence number), ``bundle_id``,
    ``q``, ``end`` (and ``z_min``, ``z_max`` when quantised), ``noise_var`` and ``snr_db`` (estimated per
    burst), ``rx_latency_ms`` (from the arrival of the samples that completed the burst to the frame's
    hand-off): what ``mijscc_rx(inline_header=False)``, ``jscc_rx`` and ``digital_rx`` read.

    Every loss is counted: images (``dropped()``, ``drop_reasons()``: truncated bursts, over-long bursts,
    other format versions, failed side words, non-finite samples, ...) and bursts whose header failed
    (``header_failures()``, their image count being unknown). Noise alone produces no frames.

    Args:
        fft_len, cp_len: as the transmitter's.
        threshold: coherent preamble-correlation threshold (0..1; 0.45 keeps noise out, below 0.39 in 6000
            trials, and finds bursts down to about -5 dB).
        len_tag_key: length tag of the output frames.
        max_burst_samples: the longest burst accepted.
    """

    def __init__(self, fft_len=64, cp_len=16, threshold=0.45, len_tag_key="packet_len", max_burst_samples=1 << 16):
        gr.basic_block.__init__(self, name="semcom_ofdm_rx", in_sig=[np.complex64], out_sig=[np.complex64])
        from semcom_core.link.air import BurstReceiver

        self.layout = make_layout(fft_len, cp_len)
        if not 0 < float(threshold) < 1:
            raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
        self.receiver = BurstReceiver(self.layout, int(max_burst_samples), float(threshold))
        self._key = pmt.intern(str(len_tag_key))
        self._log = OnceLog(f"semcom_ofdm_rx{self.unique_id()}")
        self._queue: collections.deque = collections.deque()
        self.set_tag_propagation_policy(gr.TPP_DONT)
        set_min_output_buffer_quietly(self, 1 << 16)
        self._warm_up()

    def _warm_up(self) -> None:
        """Run one burst through a spare receiver so that the first real one pays no compilation."""
        from semcom_core.link.air import BurstHeader, BurstReceiver, modulate_burst

        burst = modulate_burst(self.layout, BurstHeader(0, 0, 1, 8, 8, 0), [np.ones(8, np.complex64)])
        BurstReceiver(self.layout).feed(np.concatenate([burst, np.zeros(4 * self.layout.preamble_len, np.complex64)]))

    # -- counters ----------------------------------------------------------------------------------------
    def frames(self) -> int:
        return self.receiver.images

    def bursts(self) -> int:
        return self.receiver.bursts

    def headers_ok(self) -> int:
        return self.receiver.bursts

    def header_failures(self) -> int:
        return sum(self.receiver.burst_failures.values())

    def header_failure_reasons(self) -> dict:
        return dict(self.receiver.burst_failures)

    def dropped(self) -> int:
        return self.receiver.dropped + self._log.total()

    def drop_reasons(self) -> dict:
        reasons = dict(self.receiver.drops)
        for key, count in self._log.counts.items():
            reasons[key] = reasons.get(key, 0) + count
        return reasons

    def bad_samples(self) -> int:
        return self.receiver.bad_samples

    def snr_estimates(self) -> list:
        return list(self.receiver.snrs)

    def latency_stats(self) -> dict:
        """Per-image receiver latency in ms: mean, 95th percentile and maximum."""
        lat = np.asarray(self.receiver.latencies, np.float64)
        if not lat.size:
            return {"mean_ms": float("nan"), "p95_ms": float("nan"), "max_ms": float("nan")}
        return {"mean_ms": float(lat.mean()), "p95_ms": float(np.percentile(lat, 95)), "max_ms": float(lat.max())}

    # -- work ----------------------------------------------------------------------------------------------
    def forecast(self, noutput_items, ninputs):
        return [1] * ninputs

    def _write(self, out) -> int:
        ready, room = [], len(out)
        while self._queue and self._queue[0][0].size <= room:
            data, tags = self._queue.popleft()
            room -= data.size
            ready.append((data, tags))
        return write_frames(self, out, ready, self._key)

    def general_work(self, input_items, output_items):
        inp, out = input_items[0], output_items[0]
        try:
            if not self._queue:
                for image in self.receiver.feed(inp):
                    self._queue.append((image.payload, image.tags))
                self.consume(0, len(inp))
            return self._write(out)
        except Exception as err:  # noqa: BLE001 - never raise inside work()
            self.drop("receiver failure", repr(err))
            self.consume(0, len(inp))
            return 0
