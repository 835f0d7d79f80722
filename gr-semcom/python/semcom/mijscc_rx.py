#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""MIJSCC / A-MIJSCC receiver: framed symbols in (header with side info + payload), image PDUs out."""

from __future__ import annotations

import collections

import numpy as np
import pmt
from gnuradio import gr

from . import common

#: Frame log entries kept for ``frame_log()`` (the newest ones).
FRAME_LOG_MAX = 100_000


class mijscc_rx(gr.basic_block):
    """Parse self-describing frames and decode them with a MIJSCC / A-MIJSCC bundle.

    Stream input: complex64 frames as written by ``mijscc_tx`` (after a
    channel): each starts with a ``packet_len`` tag giving its length, which
    varies with the A-MIJSCC mask. The header is decoded with
    ``semcom_core.symbols.parse_frames`` (all frames of a ``work()`` call in
    one batch) and checked against the bundle
    (``SideInfo.problem(k, q)``); the payloads go through
    ``Bundle.receive``.

    Message output ``pdu``: ``cons(meta, f32vector of C*H*W reconstructed
    values)`` per decoded frame, with ``meta = {index, label, pred, end,
    gamma (end / k), symbols (frame length), seq, snr_db, noise_var, ...}``:
    the scalar tags of the frame's first sample (``snr_db`` and ``noise_var``
    come from the channel block, ``tx_noise_var`` from the transmitter), the
    header's ``end``, and ``pred`` the bundle's class decision from the
    received latent. ``metrics_sink`` takes these PDUs on its ``rx`` port.

    Dropped and counted by reason (``drop_reasons()``), each reason logged
    once, the flowgraph going on: untagged samples, truncated frames (cut
    short by the next tag, or shorter than the header), ``header CRC
    failure``, ``unknown frame version``, ``payload length mismatch``,
    ``non-finite samples``, ``inconsistent side information`` (q, end or the
    quantiser range contradict the bundle) and decoder failures.

    With ``inline_header=False`` the frames are payloads alone, as ``ofdm_rx``
    writes them, and the side information comes from their tags (``q``,
    ``end``, ``z_min``, ``z_max``, ``bundle_id``): a frame from another bundle
    is dropped as ``bundle mismatch``, one without side information as
    ``missing side information``.

    Args:
        bundle_path: exported MIJSCC / A-MIJSCC bundle.
        quant_bits: as for ``mijscc_tx`` (0 analog, q > 0, -1 the bundle's).
        max_batch: frames decoded in one forward pass.
        len_tag_key: name of the frame length tag.
        torch_threads: torch intra-op threads of this block's thread; 0 keeps torch's default.
        inline_header: frames carry the symbol-level header (True) or their side information as tags.

    Getters: ``decoded()``, ``dropped()``, ``drop_reasons()``, ``frame_log()``
    (per decoded frame ``{index, end, symbols, snr_db, tx_noise_var, pred,
    label}``, the newest ``FRAME_LOG_MAX``).
    """

    def __init__(self, bundle_path="", quant_bits=-1, max_batch=64, len_tag_key="packet_len", torch_threads=2,
                 inline_header=True):
        gr.basic_block.__init__(self, name="semcom_mijscc_rx", in_sig=[np.complex64], out_sig=None)
        from semcom_core.symbols import HEADER_SYMBOLS

        self.bundle = common.load_bundle(bundle_path)
        self.codec = common.make_codec(self.bundle, quant_bits)
        self.q = getattr(self.codec, "q", None)
        self.k = int(self.bundle.k)
        self.inline_header = bool(inline_header)
        self.header_symbols = int(HEADER_SYMBOLS) if self.inline_header else 0
        self.bundle_id = int(self.bundle.bundle_id)
        self.max_batch = max(1, int(max_batch))
        self.torch_threads = int(torch_threads)
        self._len_key_name = str(len_tag_key)
        self._len_key = pmt.intern(self._len_key_name)
        self._log = common.OnceLog(f"semcom_mijscc_rx{self.unique_id()}")
        self._port = pmt.intern("pdu")
        self._seq = 0
        self._frame_log: collections.deque = collections.deque(maxlen=FRAME_LOG_MAX)
        self.message_port_register_out(self._port)

    # -- getters -------------------------------------------------------------
    def dropped(self) -> int:
        """Frames (or runs of untagged samples) dropped."""
        return self._log.total()

    def drop_reasons(self) -> dict:
        return dict(self._log.counts)

    def decoded(self) -> int:
        """Frames decoded and published."""
        return self._seq

    def frame_log(self) -> list:
        return list(self._frame_log)

    # -- processing ------------------------------------------------------------
    def _meta(self, seg) -> dict:
        return common.frame_meta(seg, skip=(self._len_key_name,))

    def _decode(self, frames):
        common.use_torch_threads(self.torch_threads)
        return self.bundle.receive(frames, codec=self.codec)

    def _publish(self, seg, frame, image, pred) -> None:
        _, side = frame
        meta = self._meta(seg)
        meta["pred"] = int(pred)
        meta["end"] = int(side.end)
        meta["gamma"] = side.end / self.k
        meta["symbols"] = int(seg.length)
        meta["seq"] = self._seq
        self._seq += 1
        self._frame_log.append({key: meta.get(key) for key in
                                ("index", "label", "pred", "end", "symbols", "snr_db", "tx_noise_var")})
        self.message_port_pub(self._port, common.make_pdu(meta, image))

    def forecast(self, noutput_items, ninputs):
        # any input will do: work() itself takes only the complete frames
        return [1] * ninputs

    def general_work(self, input_items, output_items):
        from semcom_core.symbols import FrameError, parse_frames

        inp = input_items[0]
        n = len(inp)
        try:
            frames = common.complete_frames(self, n, self._len_key)
            if frames is None:
                return 0
            segments, consumed = frames
            candidates = common.sound_frames(self._log, segments, self._len_key_name)
            frames_in = [inp[s.start: s.start + s.length] for s in candidates]
            if self.inline_header:
                parsed = parse_frames(frames_in) if candidates else []
            else:
                parsed = [common.tagged_payload(s, f, self.bundle_id) for s, f in zip(candidates, frames_in)]
            good = []
            for seg, result in zip(candidates, parsed):
                if isinstance(result, FrameError):
                    self._log.problem(result.reason, result.detail)
                    continue
                reason = result[1].problem(self.k, self.q)
                if reason is not None:
                    self._log.problem("inconsistent side information", reason)
                    continue
                good.append((seg, result))
            for lo in range(0, len(good), self.max_batch):
                chunk = good[lo: lo + self.max_batch]
                try:
                    images, preds = self._decode([frame for _, frame in chunk])
                except Exception as err:  # noqa: BLE001 - a failing batch is dropped, not raised
                    self._log.problem("decoder failure", repr(err), n=len(chunk))
                    continue
                for (seg, frame), image, pred in zip(chunk, images, preds):
                    self._publish(seg, frame, image, pred)
            self.consume(0, consumed)
            return 0
        except Exception as err:  # noqa: BLE001 - never raise inside work()
            self._log.problem("receiver failure", repr(err))
            self.consume(0, n)
            return 0
