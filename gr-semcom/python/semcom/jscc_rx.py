#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Learned receiver: a tagged stream of channel symbols in, reconstructed image PDUs out."""

from __future__ import annotations

import math

import numpy as np
import pmt
from gnuradio import gr

from . import common

_SIDE_KEYS = ("z_min", "z_max")


class jscc_rx(gr.basic_block):
    """Decode frames of k symbols into images and classify them.

    Stream input: complex64 frames of ``k`` (equalised) symbols, each starting
    with a ``packet_len`` tag. Message output ``pdu``: one PDU per decoded
    frame, ``cons(meta, f32vector of C*H*W reconstructed values)`` with
    ``meta = {index, label, pred, seq, snr_db, ...}``: the frame's tags
    (``index``, ``label``, ``snr_db`` and any other scalar tag on its first
    sample), ``pred`` the classifier's decision on the reconstruction and
    ``seq`` a running count of decoded frames.

    Args:
        bundle_path: exported model bundle directory.
        quant_bits: as for ``jscc_tx`` (0 analog, q > 0 q-bit quantiser, -1 the bundle's).
        max_batch: frames decoded in one forward pass.
        len_tag_key: name of the frame length tag.
        torch_threads: torch intra-op threads of this block's thread; 0 keeps
            torch's default. The receiver (decoder + classifier) is the heavier
            half: on 2 cores, 2 threads here and 1 in jscc_tx measured fastest.

    Frames of the wrong length, with NaN/inf symbols or with missing or
    contradictory ``z_min``/``z_max`` side information are dropped and
    counted (``dropped()``, ``drop_reasons()``), each reason logged once.
    """

    def __init__(self, bundle_path="", quant_bits=0, max_batch=64, len_tag_key="packet_len",
                 torch_threads=2):
        gr.basic_block.__init__(self, name="semcom_jscc_rx", in_sig=[np.complex64], out_sig=None)
        self.bundle = common.load_bundle(bundle_path)
        self.codec = common.make_codec(self.bundle, quant_bits)
        self.quantised = getattr(self.codec, "q", None) not in (None, 0)
        self.k = int(self.bundle.k)
        self.image_shape = tuple(int(x) for x in self.bundle.image_shape)
        self.max_batch = max(1, int(max_batch))
        self.torch_threads = int(torch_threads)
        self._len_key_name = str(len_tag_key)
        self._len_key = pmt.intern(self._len_key_name)
        self._log = common.OnceLog(f"semcom_jscc_rx{self.unique_id()}")
        self._port = pmt.intern("pdu")
        self._seq = 0
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

    # -- checks ----------------------------------------------------------------
    def _side_info(self, seg):
        """(z_min, z_max) floats, or None after counting why the frame is dropped."""
        present = [key for key in _SIDE_KEYS if key in seg.tags]
        if not self.quantised:
            if present:
                self._log.problem("quantised frame at an analog receiver",
                                  "the frame carries z_min/z_max; set quant_bits to the transmitter's")
                return None
            return ()
        values = []
        for key in _SIDE_KEYS:
            raw = seg.tags.get(key)
            if not raw:
                self._log.problem("missing side information", f"no {key} tag on the frame")
                return None
            try:
                distinct = {float(v) for v in raw}
            except (TypeError, ValueError):
                self._log.problem("contradictory side information", f"{key} tag is not a number")
                return None
            if len(distinct) != 1:
                self._log.problem("contradictory side information", f"{len(distinct)} different {key} tags")
                return None
            values.append(distinct.pop())
        z_min, z_max = values
        if not (math.isfinite(z_min) and math.isfinite(z_max)) or z_min > z_max:
            self._log.problem("contradictory side information", f"z_min={z_min} z_max={z_max}")
            return None
        return z_min, z_max

    def _meta(self, seg) -> dict:
        return common.frame_meta(seg, skip=(*_SIDE_KEYS, self._len_key_name))

    # -- processing ------------------------------------------------------------
    def _decode(self, rows: np.ndarray, side):
        import torch

        common.use_torch_threads(self.torch_threads)
        with torch.no_grad():
            y = torch.from_numpy(rows)
            side_t = {}
            if self.quantised:
                side_t = {"z_min": torch.tensor([s[0] for s in side], dtype=torch.float32),
                          "z_max": torch.tensor([s[1] for s in side], dtype=torch.float32)}
            x_hat = self.bundle.decode(self.codec.from_symbols(y, side_t))
            pred = self.bundle.classify(x_hat).argmax(1)
        return x_hat.float().cpu().numpy(), pred.cpu().numpy()

    def forecast(self, noutput_items, ninputs):
        # any input will do: work() itself takes only the complete frames
        return [1] * ninputs

    def general_work(self, input_items, output_items):
        inp = input_items[0]
        n = len(inp)
        try:
            frames = common.complete_frames(self, n, self._len_key)
            if frames is None:
                return 0
            segments, consumed = frames
            good, side = [], []
            for seg in segments:
                if seg.announced is None:
                    self._log.problem("untagged samples", f"{seg.length} samples without a {self._len_key_name} tag")
                    continue
                if not seg.ok or seg.length != self.k:
                    self._log.problem("wrong frame length",
                                      f"{seg.length} samples (packet_len {seg.announced}), expected {self.k}")
                    continue
                if not np.isfinite(inp[seg.start: seg.start + seg.length]).all():
                    self._log.problem("non-finite symbols", "NaN or inf in the frame")
                    continue
                info = self._side_info(seg)
                if info is None:
                    continue
                good.append(seg)
                side.append(info)
            for lo in range(0, len(good), self.max_batch):
                chunk = good[lo: lo + self.max_batch]
                starts = np.fromiter((s.start for s in chunk), dtype=np.int64, count=len(chunk))
                rows = np.ascontiguousarray(inp[starts[:, None] + np.arange(self.k)[None, :]])
                try:
                    images, preds = self._decode(rows, side[lo: lo + self.max_batch])
                except Exception as err:  # noqa: BLE001 - a failing batch is dropped, not raised
                    self._log.problem("decoder failure", repr(err), n=len(chunk))
                    continue
                for seg, image, pred in zip(chunk, images, preds):
                    meta = self._meta(seg)
                    meta["pred"] = int(pred)
                    meta["seq"] = self._seq
                    self._seq += 1
                    self.message_port_pub(self._port, common.make_pdu(meta, image))
            self.consume(0, consumed)
            return 0
        except Exception as err:  # noqa: BLE001 - never raise inside work()
            self._log.problem("receiver failure", repr(err))
            self.consume(0, n)
            return 0
