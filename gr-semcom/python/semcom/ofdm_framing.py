#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The Python pieces of the OFDM link that GNU Radio's OFDM blocks do not provide.

- ``ofdm_framer`` (transmitter): payload frames in, [PHY header (BPSK) | payload] data symbols out,
  ready for GNU Radio's carrier allocator.
- ``ofdm_header_parser`` (receiver, header path): equalised header OFDM symbols in, a dictionary for
  ``header_payload_demux`` out (or ``False`` when the header does not decode).
- ``ofdm_payload_eq`` (receiver, payload path): FFT'd payload OFDM symbols in, equalised semantic
  symbols out with the header's fields and the estimated SNR as tags.

``ofdm_tx`` and ``ofdm_rx`` wire them with GNU Radio's OFDM blocks; the layout (subcarriers, sync words,
header size) and the numerics are ``semcom_core.symbols.ofdm.OfdmLayout``.
"""

from __future__ import annotations

import collections
import math

import numpy as np
import pmt
from gnuradio import gr

from . import common

#: Tags GNU Radio's channel estimator and equaliser pass along with a frame.
CHAN_TAPS_KEY = "ofdm_sync_chan_taps"
CARR_OFFSET_KEY = "ofdm_sync_carr_offset"


def _tag_int(values, default):
    try:
        return int(values[-1]) if values else default
    except (TypeError, ValueError):
        return default


def _tag_float(values, default):
    try:
        return float(values[-1]) if values else default
    except (TypeError, ValueError):
        return default


class sample_guard(gr.sync_block):
    """Complex samples in and out; non-finite samples (NaN, inf) become 0 and are counted
    (``bad_samples()``), so that they cannot poison the running sums of the synchroniser."""

    def __init__(self):
        gr.sync_block.__init__(self, name="semcom_sample_guard", in_sig=[np.complex64], out_sig=[np.complex64])
        self._log = common.OnceLog(f"semcom_sample_guard{self.unique_id()}")

    def bad_samples(self) -> int:
        return self._log.total()

    def work(self, input_items, output_items):
        inp, out = input_items[0], output_items[0]
        out[:] = inp
        bad = ~np.isfinite(inp)
        if bad.any():
            out[bad] = 0
            self._log.problem("non-finite samples", "replaced by 0", n=int(bad.sum()))
        return len(out)


class ofdm_framer(gr.basic_block):
    """Payload frames (tagged stream) in; header + payload data symbols (tagged stream) out.

    Each input frame (``len_tag_key`` tag on its first symbol) becomes ``header_slots`` BPSK symbols of
    its PHY header (``encode_phy_headers``: two copies, then known padding) followed by its symbols, padded to whole OFDM symbols with fixed
    pseudo-random QPSK symbols; the
    output frame's first symbol carries ``len_tag_key`` = its length. Header fields come from the
    frame's tags: ``index`` (sequence number; a counter when absent), ``bundle_id`` (0 when absent),
    ``q``, ``end`` (the frame length when absent), ``z_min``, ``z_max``. Broken frames (untagged,
    truncated, non-finite, too long for the header) are dropped and counted.
    """

    def __init__(self, layout, len_tag_key="packet_len"):
        gr.basic_block.__init__(self, name="semcom_ofdm_framer", in_sig=[np.complex64], out_sig=[np.complex64])
        self.layout = layout
        self._len_key_name = str(len_tag_key)
        self._len_key = pmt.intern(self._len_key_name)
        self._log = common.OnceLog(f"semcom_ofdm_framer{self.unique_id()}")
        self._counter = 0
        phases = np.random.default_rng(0x51D).integers(0, 4, common.MAX_FRAME_ITEMS + layout.n_data)
        self._filler = np.exp(1j * (np.pi / 4 + np.pi / 2 * phases)).astype(np.complex64)
        self._sent = 0
        self.set_tag_propagation_policy(gr.TPP_DONT)
        common.set_min_output_buffer_quietly(self, 4 * (layout.header_slots + common.MAX_FRAME_ITEMS // 4))

    def sent(self) -> int:
        return self._sent

    def dropped(self) -> int:
        return self._log.total()

    def drop_reasons(self) -> dict:
        return dict(self._log.counts)

    def _header(self, seg):
        from semcom_core.symbols import SideInfo
        from semcom_core.symbols.phy_header import PhyHeader

        tags = seg.tags
        seq = _tag_int(tags.get("index"), self._counter) % 65536
        self._counter += 1
        side = SideInfo(q=_tag_int(tags.get("q"), 0), end=_tag_int(tags.get("end"), seg.length),
                        z_min=_tag_float(tags.get("z_min"), 0.0), z_max=_tag_float(tags.get("z_max"), 0.0))
        header = PhyHeader(bundle_id=_tag_int(tags.get("bundle_id"), 0), seq=seq, length=seg.length, side=side)
        header.check()
        return header

    def _size(self, length: int) -> int:
        """Output symbols of a frame of ``length`` payload symbols."""
        return self.layout.header_slots + self.layout.payload_ofdm_symbols(length) * self.layout.n_data

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

    def forecast(self, noutput_items, ninputs):
        return [1] * ninputs

    def general_work(self, input_items, output_items):
        from semcom_core.symbols.phy_header import encode_phy_headers

        inp, out = input_items[0], output_items[0]
        try:
            frames = common.complete_frames(self, len(inp), self._len_key)
            if frames is None:
                return 0
            taken, consumed = common.frames_that_fit(frames[0], len(out), lambda seg: self._size(seg.length))
            good = []
            for seg in common.sound_frames(self._log, taken, self._len_key_name):
                samples = inp[seg.start: seg.start + seg.length]
                if not np.isfinite(samples).all():
                    self._log.problem("non-finite samples", "NaN or inf in the frame")
                    continue
                try:
                    good.append((self._header(seg), samples))
                except ValueError as err:
                    self._log.problem("side information does not fit the header", str(err))
            bpsk = encode_phy_headers([h for h, _ in good], self.layout.header_slots)
            written = common.write_frames(self, out, [(self._frame(b, x), {}) for b, (_, x) in zip(bpsk, good)],
                                          self._len_key)
            self._sent += len(good)
            self.consume(0, consumed)
            return written
        except Exception as err:  # noqa: BLE001 - never raise inside work()
            self._log.problem("framer failure", repr(err))
            self.consume(0, len(inp))
            return 0


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
        self._log = common.OnceLog(f"semcom_ofdm_header_parser{self.unique_id()}")
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
                found[rel // self._h] = _tag_int([pmt.to_python(t.value)], 0)
        return found

    def _message(self, header, noise_var: float, taps: np.ndarray, carrier_offset: int):
        lay = self.layout
        fields = {
            self._frame_len_key: lay.payload_ofdm_symbols(header.length),
            self._packet_len_key: max(1, header.length),
            "index": header.seq, "bundle_id": header.bundle_id, "q": header.side.q, "end": header.side.end,
            "z_min": header.side.z_min, "z_max": header.side.z_max, "header_noise_var": noise_var,
            CARR_OFFSET_KEY: carrier_offset,
        }
        d = pmt.make_dict()
        for key, value in fields.items():
            d = pmt.dict_add(d, pmt.intern(key), common.to_tag_value(value))
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
                if not 0 <= result.side.end <= max(result.length, 1) or result.length > common.MAX_FRAME_ITEMS:
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


class ofdm_payload_eq(gr.basic_block):
    """FFT'd payload OFDM symbols in (vectors of ``fft_len``, each frame's first tagged by the header
    demultiplexer); equalised payload symbols out, a tagged stream of ``packet_len`` symbols a frame.

    Equalisation is ``OfdmLayout.equalise``: the channel estimate from the preamble (tag
    ``ofdm_sync_chan_taps``), each OFDM symbol's common phase from its pilots, the noise from the pilot
    residuals. Output tags on each frame's first symbol: ``packet_len``, the header fields
    (``index``, ``bundle_id``, ``q``, ``end``, and ``z_min`` / ``z_max`` when ``q`` > 0), ``noise_var``
    (per equalised symbol, pooled over the payload pilots and the decoded header) and ``snr_db``
    (``-10 log10 noise_var``), ``pilot_snr_db`` (from the payload pilots alone).
    """

    def __init__(self, layout, frame_len_key="frame_len", packet_len_key="packet_len"):
        gr.basic_block.__init__(self, name="semcom_ofdm_payload_eq",
                                in_sig=[(np.complex64, layout.fft_len)], out_sig=[np.complex64])
        self.layout = layout
        self._frame_key = pmt.intern(str(frame_len_key))
        self._packet_len_key = pmt.intern(str(packet_len_key))
        self._packet_len_name = str(packet_len_key)
        from semcom_core.symbols.phy_header import PHY_HEADER_SYMBOLS

        self._header_symbols = PHY_HEADER_SYMBOLS
        self._log = common.OnceLog(f"semcom_ofdm_payload_eq{self.unique_id()}")
        self._frames = 0
        self._snrs: collections.deque = collections.deque(maxlen=100_000)
        self.set_tag_propagation_policy(gr.TPP_DONT)
        common.set_min_output_buffer_quietly(self, common.MAX_FRAME_ITEMS)

    def frames(self) -> int:
        return self._frames

    def dropped(self) -> int:
        return self._log.total()

    def drop_reasons(self) -> dict:
        return dict(self._log.counts)

    def snr_estimates(self) -> list:
        """Estimated SNR (dB) of the frames written so far, oldest first (the newest 100000)."""
        return list(self._snrs)

    def forecast(self, noutput_items, ninputs):
        return [1] * ninputs

    def _frame(self, seg, vectors):
        lay = self.layout
        tags = seg.tags
        taps_values = tags.get(CHAN_TAPS_KEY)
        if not taps_values:
            raise ValueError("no channel estimate on the frame")
        taps = np.asarray(taps_values[-1], dtype=np.complex64)
        length = _tag_int(tags.get(self._packet_len_name), -1)
        if not 1 <= length <= vectors.shape[0] * lay.n_data:
            raise ValueError(f"payload length {length} does not fit {vectors.shape[0]} OFDM symbols")
        data, pilot_nv, n_pilots = lay.equalise(vectors, taps, _tag_int(tags.get(CARR_OFFSET_KEY), 0))
        header_nv = _tag_float(tags.get("header_noise_var"), float("nan"))
        pool = [(pilot_nv, n_pilots), (header_nv, self._header_symbols)]
        pool = [(v, w) for v, w in pool if math.isfinite(v)]
        noise_var = sum(v * w for v, w in pool) / sum(w for _, w in pool) if pool else float("nan")
        out_tags = {key: tags[key][-1] for key in ("index", "bundle_id", "q", "end") if tags.get(key)}
        if _tag_int(tags.get("q"), 0) > 0:
            out_tags.update({key: tags[key][-1] for key in ("z_min", "z_max") if tags.get(key)})
        noise_var = max(noise_var, 1e-12)
        out_tags["noise_var"] = noise_var
        out_tags["snr_db"] = -10.0 * math.log10(noise_var)
        out_tags["pilot_snr_db"] = -10.0 * math.log10(max(pilot_nv, 1e-12)) if math.isfinite(pilot_nv) else float("nan")
        return data[:length], out_tags

    def general_work(self, input_items, output_items):
        inp, out = input_items[0], output_items[0]
        try:
            frames = common.complete_frames(self, len(inp), self._frame_key)
            if frames is None:
                return 0
            taken, consumed = common.frames_that_fit(frames[0], len(out), lambda seg: seg.length * self.layout.n_data)
            ready = []
            for seg in taken:
                if not seg.ok:
                    self._log.problem("broken payload", f"{seg.length} OFDM symbols, announced {seg.announced}")
                    continue
                try:
                    ready.append(self._frame(seg, inp[seg.start: seg.start + seg.length]))
                except ValueError as err:
                    self._log.problem("unusable payload", str(err))
            written = common.write_frames(self, out, ready, self._packet_len_key)
            self._frames += len(ready)
            self._snrs.extend(tags["snr_db"] for _, tags in ready)
            self.consume(0, consumed)
            return written
        except Exception as err:  # noqa: BLE001 - never raise inside work()
            self._log.problem("equaliser failure", repr(err))
            self.consume(0, len(inp))
            return 0
