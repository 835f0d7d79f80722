#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""OFDM receiver for semantic symbols, built from GNU Radio's OFDM blocks."""

from __future__ import annotations

from gnuradio import analog, blocks, digital, fft, gr

from .phy.header_parser import ofdm_header_parser
from .phy.payload_eq import ofdm_payload_eq
from .phy.sample_guard import sample_guard
from .ofdm_tx import make_layout

_FRAME_LEN_KEY = "frame_len"


class ofdm_rx(gr.hier_block2):
    """OFDM baseband samples in; payload frames (tagged stream of equalised complex symbols) out.

    Chain (as GNU Radio's own ``ofdm_rx``, except the payload equaliser): a guard that zeroes and counts
    non-finite samples (``bad_samples()``) -> ``digital.ofdm_sync_sc_cfb``
    (Schmidl & Cox timing and fine frequency offset) -> frequency correction ->
    ``digital.header_payload_demux``; header path: ``fft.fft_vcc`` -> ``digital.ofdm_chanest_vcvc``
    (channel and coarse frequency offset from the sync words) -> ``digital.ofdm_frame_equalizer_vcvc``
    (decision feedback on the BPSK header) -> ``ofdm_header_parser`` (PHY header decoding and CRC; its
    verdict goes back to the demultiplexer); payload path: ``fft.fft_vcc`` -> ``ofdm_payload_eq``
    (channel estimate, pilot phase tracking, SNR from the pilots; no constellation decision).

    Output: one frame of ``packet_len`` symbols per decoded header, tagged with ``packet_len``,
    ``index`` (the header's sequence number), ``bundle_id``, ``q``, ``end`` (and ``z_min``, ``z_max`` when
    quantised), ``noise_var`` and ``snr_db`` (estimated per frame), ``pilot_snr_db``: what
    ``mijscc_rx(inline_header=False)``, ``jscc_rx`` and ``digital_rx`` read.

    Frames whose header fails are dropped and counted (``header_failures()``, ``header_failure_reasons()``);
    the flowgraph keeps running.

    Args:
        fft_len, cp_len: as the transmitter's.
        threshold: Schmidl & Cox detection threshold (0..1).
        len_tag_key: length tag of the output frames.
    """

    def __init__(self, fft_len=64, cp_len=16, threshold=0.5, len_tag_key="packet_len"):
        gr.hier_block2.__init__(self, "semcom_ofdm_rx", gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        lay = self.layout = make_layout(fft_len, cp_len)
        n, cp, h = lay.fft_len, lay.cp_len, lay.header_ofdm_symbols
        w1, w2 = lay.sync_words
        self.sync = digital.ofdm_sync_sc_cfb(n, cp, True, float(threshold))   # sync word 1 uses even subcarriers
        self.delay = blocks.delay(gr.sizeof_gr_complex, n + cp)
        self.oscillator = analog.frequency_modulator_fc(-2.0 / n)
        self.mixer = blocks.multiply_cc()
        self.demux = digital.header_payload_demux(2 + h, n, cp, _FRAME_LEN_KEY, "", True, gr.sizeof_gr_complex)
        self.guard = sample_guard()
        self.connect(self, self.guard, self.sync)
        self.connect(self.guard, self.delay, (self.mixer, 0))
        self.connect((self.sync, 0), self.oscillator, (self.mixer, 1))
        self.connect(self.mixer, (self.demux, 0))
        self.connect((self.sync, 1), (self.demux, 1))

        self.header_fft = fft.fft_vcc(n, True, (), True)
        self.chanest = digital.ofdm_chanest_vcvc(w1.tolist(), w2.tolist(), h)
        bpsk = digital.constellation_bpsk()
        self.header_equalizer = digital.ofdm_equalizer_simpledfe(
            n, bpsk.base(), [list(lay.data_carriers)], [list(lay.pilot_carriers)], [list(lay.pilot_symbols)], 0, 0.1, True, True)   # soft output: the parser combines the two copies
        self.header_eq = digital.ofdm_frame_equalizer_vcvc(self.header_equalizer.base(), cp, _FRAME_LEN_KEY, True, h)
        self.header_parser = ofdm_header_parser(lay, _FRAME_LEN_KEY, str(len_tag_key))
        self.connect((self.demux, 0), self.header_fft, self.chanest, self.header_eq, (self.header_parser, 0))
        self.connect(self.chanest, (self.header_parser, 1))
        self.msg_connect(self.header_parser, "header_data", self.demux, "header_data")

        self.payload_fft = fft.fft_vcc(n, True, (), True)
        self.payload_eq = ofdm_payload_eq(lay, _FRAME_LEN_KEY, str(len_tag_key))
        self.connect((self.demux, 1), self.payload_fft, self.payload_eq, self)

    def frames(self) -> int:
        """Payload frames written."""
        return self.payload_eq.frames()

    def headers_ok(self) -> int:
        return self.header_parser.headers_ok()

    def header_failures(self) -> int:
        return self.header_parser.failures()

    def header_failure_reasons(self) -> dict:
        return self.header_parser.failure_reasons()

    def dropped(self) -> int:
        """Frames dropped: failed headers and unusable payloads."""
        return self.header_parser.failures() + self.payload_eq.dropped()

    def drop_reasons(self) -> dict:
        reasons = dict(self.header_parser.failure_reasons())
        for key, count in self.payload_eq.drop_reasons().items():
            reasons[key] = reasons.get(key, 0) + count
        return reasons

    def bad_samples(self) -> int:
        return self.guard.bad_samples()

    def snr_estimates(self) -> list:
        return self.payload_eq.snr_estimates()
