#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Receiver, header path: equalised header OFDM symbols in, a dictionary for ``header_payload_demux`` out."""

from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr

from ..base.log import OnceLog
from ..base.pdu import to_tag_value
from ..base.stream import MAX_FRAME_ITEMS
from .tags import CARR_OFFSET_KEY, CHAN_TAPS_KEY, tag_int


class ofdm_header_parser(gr.basic_block):
    """Header OFDM symbols in, ``header_ofdm_symbols`` per frame, twice: equalised (input 0, from GNU
    Radio's frame equaliser) and as the channel estimator passed them (input 1). A dictionary posted
    on ``header_data`` for ``header_payload_demux`` per frame, ``False`` when the header fails (counted
    by reason: ``header CRC failure``, ``unknown frame version``, ...).

    Once a header decodes, all its symbols are known: ``OfdmLayout.estimate_channel`` averages the
    channel over them (input 1), a far better estimate for the payload than the preamble's single
    symbol, and measures the noise from their spread. The dictionary holds ``frame_len`` (payload OFDM
    symbols), ``packet_len`` (payload symbols), the header fields (``index`` = sequence number,
    ``bundle_id``, ``q``, ``end``, ``z_min``, ``z_max``), ``header_noise_var`` and
    ``ofdm_sync_chan_taps`` (that estimate) and ``ofdm_sync_carr_offset``; the demultiplexer puts them
    on the payload's first OFDM symbol.
    """

    def __init__(self, layout, frame_len_key="frame_len", packet_len_key="packet_len"):
        gr.basic_block.__init__(self, name="semcom_ofdm_header_parser",
                                in_sig=[(np.complex64, layout.fft_len)] * 2, out_sig=None)
        self.layout = layout
        self._h = layout.header_ofdm_symbols
        self._data_idx = layout.shifted(layout.data_carriers)
        self._frame_len_key = str(frame_len_key)
        self._packet_len_key = str(packet_len_key)
        self._port = pmt.intern("header_data")
        self._log = OnceLog(f"semcom_ofdm_header_parser{self.unique_id()}")
        self._ok = 0
        self._last = None
        self.message_port_register_out(self._port)

    def headers_ok(self) -> int:
        return self._ok

    def failures(self) -> int:
        return self._log.total()

    def failure_reasons(self) -> dict:
        return dict(self._log.counts)

    def last_header(self):
        """The last decoded header as a dict (None before the first)."""
        return self._last

    def forecast(self, noutput_items, ninputs):
        return [self._h] * ninputs

    def _carrier_offsets(self, n_frames: int) -> list:
        """Per frame, the channel estimator's integer carrier offset (tag on its first symbol; 0 without)."""
        base = self.nitems_read(0)
        found = [0] * n_frames
        for t in self.get_tags_in_window(0, 0, n_frames * self._h, pmt.intern(CARR_OFFSET_KEY)):
            rel = t.offset - base
            if rel % self._h == 0:
                found[rel // self._h] = tag_int([pmt.to_python(t.value)], 0)
        return found

    def _message(self, header, noise_var: float, taps: np.ndarray, carrier_offset: int):
        lay = self.layout
        fields = {
            self._frame_len_key: lay.payload_ofdm_symbols(header.length),
            self._packet_len_key: max(1, header.length),
            "index": header.seq, "bundle_id": header.bundle_id, **header.side.to_tags(),
            "header_noise_var": noise_var, CARR_OFFSET_KEY: carrier_offset,
        }
        d = pmt.make_dict()
        for key, value in fields.items():
            d = pmt.dict_add(d, pmt.intern(key), to_tag_value(value))
        return pmt.dict_add(d, pmt.intern(CHAN_TAPS_KEY), pmt.init_c32vector(taps.size, taps.tolist()))

    def general_work(self, input_items, output_items):
        from semcom_core.symbols import FrameError
        from semcom_core.symbols.phy_header import decode_phy_headers, encode_phy_headers

        inp, raw = input_items
        n_frames = min(len(inp), len(raw)) // self._h
        if n_frames == 0:
            return 0
        lay = self.layout
        try:
            rows = inp[: n_frames * self._h].reshape(n_frames, self._h, -1)[:, :, self._data_idx]
            rows = rows.reshape(n_frames, -1)
            raws = raw[: n_frames * self._h].reshape(n_frames, self._h, -1)
            decoded = decode_phy_headers(rows)
            offsets = self._carrier_offsets(n_frames)
            for frame_raw, result, offset in zip(raws, decoded, offsets):
                if isinstance(result, FrameError):
                    self._log.problem(result.reason, result.detail)
                    self.message_port_pub(self._port, pmt.PMT_F)
                    continue
                if not 0 <= result.side.end <= max(result.length, 1) or result.length > MAX_FRAME_ITEMS:
                    self._log.problem("inconsistent header", f"length {result.length}, end {result.side.end}")
                    self.message_port_pub(self._port, pmt.PMT_F)
                    continue
                known = encode_phy_headers([result], lay.header_slots)[0].astype(np.complex64)
                taps, noise_var = lay.estimate_channel(frame_raw, known.reshape(self._h, -1), offset)
                self._ok += 1
                self._last = {"index": result.seq, "bundle_id": result.bundle_id, "length": result.length,
                              "q": result.side.q, "end": result.side.end, "header_noise_var": noise_var}
                self.message_port_pub(self._port, self._message(result, noise_var, taps, offset))
        except Exception as err:  # noqa: BLE001 - never raise inside work(); the demux must not stall
            self._log.problem("header parser failure", repr(err), n=n_frames)
            for _ in range(n_frames):
                self.message_port_pub(self._port, pmt.PMT_F)
        self.consume_each(n_frames * self._h)
        return 0
