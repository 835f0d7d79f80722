#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Transmitter: payload frames in, [PHY header (BPSK) | payload] data symbols out for the carrier allocator."""

from __future__ import annotations

import numpy as np

from ..base.mapper import FrameMapper
from ..base.stream import MAX_FRAME_ITEMS, set_min_output_buffer_quietly, sound_frames


class ofdm_framer(FrameMapper):
    """Payload frames (tagged stream) in; header + payload data symbols (tagged stream) out.

    Each input frame (``len_tag_key`` tag on its first symbol) becomes ``header_slots`` BPSK symbols of
    its PHY header (``encode_phy_headers``: two copies, then known padding) followed by its symbols, padded to whole OFDM symbols with fixed
    pseudo-random QPSK symbols; the
    output frame's first symbol carries ``len_tag_key`` = its length. Header fields come from the
    frame's tags: ``index`` (sequence number; a counter when absent), ``bundle_id`` (0 when absent),
    ``q``, ``end`` (the frame length when absent), ``z_min``, ``z_max``. Broken frames (untagged,
    truncated, non-finite, too long for the header) are dropped and counted.
    """

    failure = "framer failure"

    def __init__(self, layout, len_tag_key="packet_len"):
        super().__init__("semcom_ofdm_framer", [np.complex64], len_tag_key, len_tag_key)
        self.layout = layout
        self._counter = 0
        phases = np.random.default_rng(0x51D).integers(0, 4, MAX_FRAME_ITEMS + layout.n_data)
        self._filler = np.exp(1j * (np.pi / 4 + np.pi / 2 * phases)).astype(np.complex64)
        self._sent = 0
        set_min_output_buffer_quietly(self, 4 * (layout.header_slots + MAX_FRAME_ITEMS // 4))

    def sent(self) -> int:
        return self._sent

    def _header(self, seg):
        """The PHY header of a frame from its tags; ``FrameError`` or ``ValueError`` when they do not fit."""
        from semcom_core.symbols import SideInfo
        from semcom_core.symbols.phy_header import PhyHeader
        from semcom_core.symbols.sideinfo import tag_value

        seq = tag_value(seg.tags, "index", int, self._counter) % 65536
        self._counter += 1
        header = PhyHeader(bundle_id=tag_value(seg.tags, "bundle_id", int, 0), seq=seq, length=seg.length,
                           side=SideInfo.from_tags(seg.tags, frame_length=seg.length))
        header.check()
        return header

    def output_size(self, seg) -> int:
        """Output symbols of a frame: the header slots and whole OFDM symbols of payload."""
        return self.layout.header_slots + self.layout.payload_ofdm_symbols(seg.length) * self.layout.n_data

    def _frame(self, header_bpsk, samples):
        lay = self.layout
        payload_slots = lay.payload_ofdm_symbols(samples.size) * lay.n_data
        out = np.empty(lay.header_slots + payload_slots, np.complex64)
        out[: lay.header_slots] = header_bpsk
        # payload padding: fixed pseudo-random QPSK, never zeros. An OFDM symbol holding little but its
        # pilots has two nearly equal half-symbols, which Schmidl & Cox takes for a preamble: its new
        # frequency estimate would then rotate the rest of the frame.
        out[lay.header_slots:] = self._filler[: payload_slots]
        out[lay.header_slots: lay.header_slots + samples.size] = samples
        return out

    def map_frames(self, segments, inp) -> list:
        from semcom_core.symbols.phy_header import encode_phy_headers

        good = []
        for seg in sound_frames(self._log, segments, self._in_key_name):
            samples = inp[seg.start: seg.start + seg.length]
            if not np.isfinite(samples).all():
                self.drop("non-finite samples", "NaN or inf in the frame")
                continue
            try:
                good.append((self._header(seg), samples))
            except ValueError as err:
                self.drop("side information does not fit the header", str(err))
        bpsk = encode_phy_headers([h for h, _ in good], self.layout.header_slots)
        self._sent += len(good)
        return [(self._frame(b, x), {}) for b, (_, x) in zip(bpsk, good)]
