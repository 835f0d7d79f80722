#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Receiver, payload path: FFT'd payload OFDM symbols in, equalised semantic symbols out with their tags."""

from __future__ import annotations

import collections
import math

import numpy as np

from ..base.mapper import FrameMapper
from ..base.stream import MAX_FRAME_ITEMS, set_min_output_buffer_quietly
from .tags import CARR_OFFSET_KEY, CHAN_TAPS_KEY, tag_float, tag_int


class ofdm_payload_eq(FrameMapper):
    """FFT'd payload OFDM symbols in (vectors of ``fft_len``, each frame's first tagged by the header
    demultiplexer); equalised payload symbols out, a tagged stream of ``packet_len`` symbols a frame.

    Equalisation is ``OfdmLayout.equalise``: the channel estimate from the preamble (tag
    ``ofdm_sync_chan_taps``), each OFDM symbol's common phase from its pilots, the noise from the pilot
    residuals. Output tags on each frame's first symbol: ``packet_len``, the header fields
    (``index``, ``bundle_id``, ``q``, ``end``, and ``z_min`` / ``z_max`` when ``q`` > 0), ``noise_var``
    (per equalised symbol, pooled over the payload pilots and the decoded header) and ``snr_db``
    (``-10 log10 noise_var``), ``pilot_snr_db`` (from the payload pilots alone).
    """

    failure = "equaliser failure"

    def __init__(self, layout, frame_len_key="frame_len", packet_len_key="packet_len"):
        super().__init__("semcom_ofdm_payload_eq", [(np.complex64, layout.fft_len)], frame_len_key, packet_len_key)
        self.layout = layout
        self._packet_len_name = str(packet_len_key)
        from semcom_core.symbols.phy_header import PHY_HEADER_SYMBOLS

        self._header_symbols = PHY_HEADER_SYMBOLS
        self._frames = 0
        self._snrs: collections.deque = collections.deque(maxlen=100_000)
        set_min_output_buffer_quietly(self, MAX_FRAME_ITEMS)

    def frames(self) -> int:
        return self._frames

    def snr_estimates(self) -> list:
        """Estimated SNR (dB) of the frames written so far, oldest first (the newest 100000)."""
        return list(self._snrs)

    def _frame(self, seg, vectors):
        from semcom_core.symbols import SideInfo
        from semcom_core.units import snr_db_from_noise_var

        lay = self.layout
        tags = seg.tags
        taps_values = tags.get(CHAN_TAPS_KEY)
        if not taps_values:
            raise ValueError("no channel estimate on the frame")
        taps = np.asarray(taps_values[-1], dtype=np.complex64)
        length = tag_int(tags.get(self._packet_len_name), -1)
        if not 1 <= length <= vectors.shape[0] * lay.n_data:
            raise ValueError(f"payload length {length} does not fit {vectors.shape[0]} OFDM symbols")
        data, pilot_nv, n_pilots = lay.equalise(vectors, taps, tag_int(tags.get(CARR_OFFSET_KEY), 0))
        header_nv = tag_float(tags.get("header_noise_var"), float("nan"))
        pool = [(pilot_nv, n_pilots), (header_nv, self._header_symbols)]
        pool = [(v, w) for v, w in pool if math.isfinite(v)]
        noise_var = sum(v * w for v, w in pool) / sum(w for _, w in pool) if pool else float("nan")
        out_tags = {key: tags[key][-1] for key in ("index", "bundle_id") if tags.get(key)}
        out_tags.update(SideInfo.from_tags(tags, frame_length=length).to_tags())
        noise_var = max(noise_var, 1e-12)
        out_tags["noise_var"] = noise_var
        out_tags["snr_db"] = snr_db_from_noise_var(noise_var)
        out_tags["pilot_snr_db"] = snr_db_from_noise_var(max(pilot_nv, 1e-12)) if math.isfinite(pilot_nv) else float("nan")
        return data[:length], out_tags

    def output_size(self, seg) -> int:
        return seg.length * self.layout.n_data

    def map_frames(self, segments, inp) -> list:
        ready = []
        for seg in segments:
            if not seg.ok:
                self.drop("broken payload", f"{seg.length} OFDM symbols, announced {seg.announced}")
                continue
            try:
                ready.append(self._frame(seg, inp[seg.start: seg.start + seg.length]))
            except ValueError as err:
                self.drop("unusable payload", str(err))
        self._frames += len(ready)
        self._snrs.extend(tags["snr_db"] for _, tags in ready)
        return ready
