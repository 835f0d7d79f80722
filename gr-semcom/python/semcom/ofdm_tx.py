#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""OFDM transmitter for semantic symbols, built from GNU Radio's OFDM blocks."""

from __future__ import annotations

import math

from gnuradio import blocks, digital, fft, gr

from .phy.framer import ofdm_framer


def make_layout(fft_len, cp_len):
    from semcom_core.symbols.ofdm import OfdmLayout

    return OfdmLayout(int(fft_len), int(cp_len))


class ofdm_tx(gr.hier_block2):
    """Payload frames (tagged stream of complex symbols) in; OFDM baseband bursts out.

    Chain: ``ofdm_framer`` (PHY header from the frame's tags, BPSK; payload symbols as they are) ->
    ``digital.ofdm_carrier_allocator_cvc`` (data and pilot subcarriers, two Schmidl & Cox sync
    words) -> ``fft.fft_vcc`` (IFFT) -> ``digital.ofdm_cyclic_prefixer`` -> scaling to RMS
    ``amplitude`` -> ``digital.burst_shaper_cc`` (``gap`` zero samples after each burst, so that a
    receiver sees the end of the last frame and bursts are separated on the air). The output is a
    tagged stream: ``len_tag_key`` on each burst's first sample gives its length (a USRP sink with
    that length tag name sends each one as a burst).

    Args:
        fft_len, cp_len: OFDM symbol (``semcom_core.symbols.ofdm.OfdmLayout``).
        amplitude: RMS amplitude of the bursts (1.0 for simulation; around 0.1 to 0.3 for a USRP, so
            that OFDM peaks stay below full scale).
        gap: zero samples after every burst.
        len_tag_key: length tag of the input frames and of the output bursts.

    Getters: ``sent()`` (frames), ``dropped()``, ``drop_reasons()``, ``layout``.
    """

    def __init__(self, fft_len=64, cp_len=16, amplitude=1.0, gap=160, len_tag_key="packet_len"):
        gr.hier_block2.__init__(self, "semcom_ofdm_tx", gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        lay = self.layout = make_layout(fft_len, cp_len)
        if not (math.isfinite(float(amplitude)) and float(amplitude) > 0):
            raise ValueError(f"amplitude must be > 0, got {amplitude!r}")
        if int(gap) < 0:
            raise ValueError(f"gap must be >= 0 samples, got {gap!r}")
        key = str(len_tag_key)
        self.gap = int(gap)
        w1, w2 = lay.sync_words
        self.framer = ofdm_framer(lay, key)
        self.allocator = digital.ofdm_carrier_allocator_cvc(
            lay.fft_len, [list(lay.data_carriers)], [list(lay.pilot_carriers)], [list(lay.pilot_symbols)],
            [w1.tolist(), w2.tolist()], key, True)
        self.ifft = fft.fft_vcc(lay.fft_len, False, (), True)
        self.prefixer = digital.ofdm_cyclic_prefixer(lay.fft_len, lay.fft_len + lay.cp_len, 0, key)
        self.scale = blocks.multiply_const_cc(float(amplitude) / math.sqrt(lay.n_used))
        # taps [1.0]: no ramp; with no taps at all the block loses its post-padding at the end of a stream
        self.shaper = digital.burst_shaper_cc([1.0], 0, int(gap), False, key)
        self.connect(self, self.framer, self.allocator, self.ifft, self.prefixer, self.scale, self.shaper, self)

    def sent(self) -> int:
        return self.framer.sent()

    def samples_sent(self) -> int:
        """Samples of the bursts written so far (gaps included)."""
        return self.shaper.nitems_written(0)

    def dropped(self) -> int:
        return self.framer.dropped()

    def drop_reasons(self) -> dict:
        return self.framer.drop_reasons()
