#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""MIJSCC / A-MIJSCC transmitter: image PDUs in, framed symbols (header with side info + payload) out."""

from __future__ import annotations

import collections
import math
import threading
import time

import numpy as np
import pmt
from gnuradio import gr

from . import common


def noise_var_of(msg) -> float:
    """The noise variance a ``noise_var`` message asks for: a PMT number (the variance), or a dict
    with ``noise_var`` or ``snr_db``. Raises ``ValueError`` when it holds no usable value."""
    if pmt.is_dict(msg):
        d = pmt.to_python(msg)
        if "noise_var" in d:
            value = d["noise_var"]
        elif "snr_db" in d:
            value = 10 ** (-float(d["snr_db"]) / 10)
        else:
            raise ValueError("dict without noise_var or snr_db")
    elif pmt.is_number(msg) and not pmt.is_complex(msg):
        value = pmt.to_double(msg) if pmt.is_real(msg) else pmt.to_long(msg)
    else:
        raise ValueError("neither a number nor a dict")
    return checked_noise_var(value)


def checked_noise_var(value) -> float:
    if isinstance(value, bool):
        raise ValueError(f"noise variance {value!r} is not a number")
    try:
        nv = float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"noise variance {value!r} is not a number") from err
    if not (math.isfinite(nv) and nv > 0):
        raise ValueError(f"noise variance must be finite and > 0, got {value!r}")
    return nv


class mijscc_tx(common.FrameQueueBlock, gr.sync_block):
    """Encode image PDUs into self-describing frames for MIJSCC / A-MIJSCC bundles.

    Message input ``pdu``: image PDUs as from ``image_source``. Message input
    ``noise_var``: the channel's noise variance per complex symbol, as
    feedback would supply it: a PMT number, or a dict with ``noise_var`` or
    ``snr_db``. The newest value applies to the images encoded next; invalid
    values are counted (``bad_noise_var()``) and ignored. A PDU whose metadata
    has ``noise_var`` (``snr_schedule`` adds it) is encoded with that value
    instead, so a schedule is followed image by image, independently of how
    the scheduler interleaves the two ports.

    Stream output: complex64, one frame per image,
    ``semcom_core.symbols.frame_symbols(payload, side)``: ``HEADER_SYMBOLS``
    header symbols (q, end, z_min, z_max, CRC-16, rate-1/2 convolutional code,
    QPSK) followed by the ``end`` payload symbols, so frames have variable
    length. Tags on each frame's first sample: ``packet_len`` (the frame
    length; key ``len_tag_key``), ``index`` and ``label`` (from the PDU
    metadata), ``end``, ``tx_noise_var`` (the noise variance the mask was
    computed for; not ``noise_var``, which the channel block adds with the
    noise of the equalised symbols) and ``tx_snr_db`` (the same in dB; a
    channel with ``snr_tag_key="tx_snr_db"`` follows it frame by frame).

    With ``inline_header=False`` (for a physical layer that sends the side
    information in a header of its own, such as ``ofdm_tx``) a frame is the
    payload alone, and the side information travels as tags: ``q``, ``end``,
    ``z_min``, ``z_max`` and ``bundle_id`` (``Bundle.bundle_id``). A frame whose
    mask switched every symbol off (``end`` 0) is one zero symbol.

    Args:
        bundle_path: exported MIJSCC / A-MIJSCC bundle (``Bundle.transmit``).
        quant_bits: 0 analog, q > 0 a q-bit quantiser, -1 the bundle's own.
        adaptive: apply the A-MIJSCC noise-adaptive mask (bundles without one
            always send all k symbols).
        noise_var: initial noise variance; <= 0 uses the bundle's default (the
            middle of its training SNR range).
        max_batch: images encoded in one forward pass.
        len_tag_key: name of the frame length tag.
        torch_threads: torch intra-op threads of this block's thread; 0 keeps torch's default.
        inline_header: put the header in front of the payload (True) or send
            the side information as tags (False).

    Getters: ``sent()``, ``dropped()``, ``drop_reasons()``, ``symbols_sent()``
    (all output symbols, headers included), ``payload_symbols_sent()``,
    ``last_end()``, ``noise_var()``.
    """

    def __init__(self, bundle_path="", quant_bits=-1, adaptive=True, noise_var=0.0, max_batch=64,
                 len_tag_key="packet_len", torch_threads=1, inline_header=True):
        gr.sync_block.__init__(self, name="semcom_mijscc_tx", in_sig=None, out_sig=[np.complex64])
        from semcom_core.symbols import HEADER_SYMBOLS

        self.bundle = common.load_bundle(bundle_path)
        self.codec = common.make_codec(self.bundle, quant_bits)
        self.adaptive = bool(adaptive)
        self.k = int(self.bundle.k)
        self.inline_header = bool(inline_header)
        self.header_symbols = int(HEADER_SYMBOLS) if self.inline_header else 0
        self.bundle_id = int(self.bundle.bundle_id)
        self.image_shape = tuple(int(x) for x in self.bundle.image_shape)
        self.n = int(np.prod(self.image_shape))
        self.max_batch = max(1, int(max_batch))
        self.torch_threads = int(torch_threads)
        self._len_key = pmt.intern(str(len_tag_key))
        self._keys = {name: pmt.intern(name) for name in ("index", "label", "end", "tx_noise_var", "tx_snr_db",
                                                            "q", "z_min", "z_max", "bundle_id")}
        self._log = common.OnceLog(f"semcom_mijscc_tx{self.unique_id()}")
        self._nv_log = common.OnceLog(f"semcom_mijscc_tx{self.unique_id()}")
        self._queue: collections.deque = collections.deque()
        self._nv_lock = threading.Lock()
        self._noise_var = None
        if float(noise_var) > 0:
            self.set_noise_var(noise_var)
        self._pending = None      # [frames (list of arrays), tag dicts, next row]
        self._sent = 0
        self._received = 0
        self._symbols = 0
        self._payload_symbols = 0
        self._last_end = -1
        common.set_min_output_buffer_quietly(
            self, max(common.MAX_FRAME_ITEMS, 2 * (self.k + self.header_symbols) * self.max_batch))
        self.message_port_register_in(pmt.intern("pdu"))
        self.set_msg_handler(pmt.intern("pdu"), self._handle_pdu)
        self.message_port_register_in(pmt.intern("noise_var"))
        self.set_msg_handler(pmt.intern("noise_var"), self._handle_noise_var)

    # -- parameters and getters ------------------------------------------------
    def set_noise_var(self, noise_var) -> None:
        """Noise variance for the next images (finite, > 0); raises ValueError otherwise."""
        nv = checked_noise_var(noise_var)
        with self._nv_lock:
            self._noise_var = nv

    def noise_var(self) -> float:
        """The current noise variance (the bundle's default until one is set)."""
        with self._nv_lock:
            nv = self._noise_var
        return self.bundle.default_noise_var() if nv is None else nv

    def symbols_sent(self) -> int:
        return self._symbols

    def payload_symbols_sent(self) -> int:
        return self._payload_symbols

    def last_end(self) -> int:
        """Payload symbols of the last frame written (-1 before the first)."""
        return self._last_end

    def bad_noise_var(self) -> int:
        """``noise_var`` messages ignored because they held no usable value."""
        return self._nv_log.total()

    def _handle_noise_var(self, msg):
        try:
            self.set_noise_var(noise_var_of(msg))
        except Exception as err:  # noqa: BLE001 - a bad message is counted, never raised
            self._nv_log.problem("invalid noise_var message", str(err))

    # -- processing --------------------------------------------------------------
    def _take_batch(self):
        """Up to max_batch valid queued images: (images [B,C,H,W], metas, noise variances)."""
        images, metas, nvs = [], [], []
        for meta, data in self._queued_pdus():
            if not self._image_ok(data):
                continue
            nv = self.noise_var()
            if "noise_var" in meta:
                try:
                    nv = checked_noise_var(meta["noise_var"])
                except ValueError as err:
                    self._nv_log.problem("invalid noise_var in PDU metadata", str(err))
            images.append(data)
            metas.append(meta)
            nvs.append(nv)
            if len(images) == self.max_batch:
                break
        if not images:
            return None, None, None
        return np.stack(images).reshape((len(images),) + self.image_shape), metas, nvs

    def _encode(self, images: np.ndarray, nvs: list):
        """Frames (complex64 arrays) and their SideInfo, one per image; images with the same noise
        variance share a forward pass."""
        import torch

        from semcom_core.symbols import frame_symbols_batch

        common.use_torch_threads(self.torch_threads)
        out = [None] * len(nvs)
        groups: dict = {}
        for i, nv in enumerate(nvs):
            groups.setdefault(nv, []).append(i)
        for nv, rows in groups.items():
            x = torch.from_numpy(np.ascontiguousarray(images[rows]))
            sent = self.bundle.transmit(x, noise_var=nv, codec=self.codec, adaptive=self.adaptive)
            if self.inline_header:
                frames = frame_symbols_batch([p for p, _ in sent], [s for _, s in sent])
            else:   # payload only; an empty payload still needs one (zero) symbol to carry its tags
                frames = [p.astype(np.complex64) if len(p) else np.zeros(1, np.complex64) for p, _ in sent]
            for row, frame, (_, side) in zip(rows, frames, sent):
                out[row] = (frame, side)
        return out

    def work(self, input_items, output_items):
        out = output_items[0]
        try:
            if self._pending is None:
                images, metas, nvs = self._take_batch()
                if images is None:
                    time.sleep(0.002)   # idle: let the scheduler deliver messages
                    return 0
                try:
                    encoded = self._encode(images, nvs)
                except Exception as err:  # noqa: BLE001 - a failing batch is dropped, not raised
                    self._log.problem("encoder failure", repr(err), n=len(metas))
                    return 0
                frames, tags = [], []
                for (frame, side), meta, nv in zip(encoded, metas, nvs):
                    t = {key: meta[key] for key in ("index", "label") if key in meta}
                    t["end"] = int(side.end)
                    if not self.inline_header:
                        t.update(q=int(side.q), z_min=float(side.z_min), z_max=float(side.z_max),
                                 bundle_id=self.bundle_id)
                    t["tx_noise_var"] = float(nv)
                    t["tx_snr_db"] = -10.0 * math.log10(nv)
                    frames.append(frame)
                    tags.append(t)
                self._pending = [frames, tags, 0]
            frames, tags, row = self._pending
            written = 0
            base = self.nitems_written(0)
            while row < len(frames) and written + len(frames[row]) <= len(out):
                frame = frames[row]
                length = len(frame)
                out[written: written + length] = frame
                offset = base + written
                self.add_item_tag(0, offset, self._len_key, pmt.from_long(length))
                for key, value in tags[row].items():
                    self.add_item_tag(0, offset, self._keys.get(key) or pmt.intern(key), common.to_tag_value(value))
                written += length
                self._sent += 1
                self._symbols += length
                self._payload_symbols += int(tags[row]["end"])
                self._last_end = int(tags[row]["end"])
                row += 1
            self._pending = None if row >= len(frames) else [frames, tags, row]
            return written
        except Exception as err:  # noqa: BLE001 - never raise inside work()
            self._log.problem("transmitter failure", repr(err))
            self._pending = None
            return 0
