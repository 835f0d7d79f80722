#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The receivers' shared machinery: a tagged stream of frames in, one PDU per frame out."""

from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr

from .log import DropCounter, OnceLog, use_torch_threads
from .pdu import make_pdu
from .stream import complete_frames, frame_meta


class FrameReceiver(DropCounter, gr.basic_block):
    """Base of the receivers: complex frames in (a ``len_tag_key`` tag on each first sample), PDUs out.

    Each ``work()`` call takes the frames wholly inside its window; untagged samples are dropped and
    counted. A subclass's :meth:`parse` turns every tagged frame into an item or a ``FrameError`` (dropped
    and counted by its reason); :meth:`decode` turns ``max_batch`` items at a time into
    ``(metadata, values)``, published on ``pdu`` as ``cons(meta, f32vector)`` with the frame's scalar tags,
    that metadata and ``seq``, a running count. The unit of failure is one frame: a batch whose decoding
    fails is decoded again frame by frame, so that only the frames that fail alone are dropped; outputs
    with NaN or inf, and frames whose tags cannot be published, are dropped alone, each with its reason.

    Getters: ``decoded()`` (PDUs published), ``dropped()``, ``drop_reasons()``.
    """

    #: Tags not copied into the PDU metadata (besides the length tag).
    META_SKIP: tuple = ()

    def __init__(self, name: str, len_tag_key="packet_len", max_batch=64, torch_threads=1):
        gr.basic_block.__init__(self, name=name, in_sig=[np.complex64], out_sig=None)
        self.max_batch = max(1, int(max_batch))
        self.torch_threads = int(torch_threads)
        self._len_key_name = str(len_tag_key)
        self._len_key = pmt.intern(self._len_key_name)
        self._log = OnceLog(f"{name}{self.unique_id()}")
        self._port = pmt.intern("pdu")
        self._seq = 0
        self.message_port_register_out(self._port)

    # -- getters ---------------------------------------------------------------------------------------
    def decoded(self) -> int:
        """PDUs published."""
        return self._seq

    # -- what subclasses provide -------------------------------------------------------------------------
    def parse(self, segments, samples) -> list:
        """Per tagged segment (and its samples): an item for :meth:`decode`, or a ``FrameError``."""
        raise NotImplementedError

    def decode(self, frames) -> list:
        """``(segment, item)`` pairs -> ``(metadata dict, values)`` per frame."""
        raise NotImplementedError

    # -- the machinery --------------------------------------------------------------------------------------
    def publish(self, meta: dict, values) -> None:
        pdu = make_pdu({**meta, "seq": self._seq}, values)      # raises before counting a PDU it cannot make
        self._seq += 1
        self.message_port_pub(self._port, pdu)

    def meta(self, seg) -> dict:
        return frame_meta(seg, skip=(self._len_key_name, *self.META_SKIP))

    def forecast(self, noutput_items, ninputs):
        # any input will do: work() itself takes only the complete frames
        return [1] * ninputs

    def _decode_isolated(self, chunk) -> list:
        """:meth:`decode` of a batch; when it fails, of each frame alone (a FrameError for those that fail)."""
        from semcom_core.symbols import FrameError

        try:
            return list(self.decode(chunk))
        except Exception as err:  # noqa: BLE001 - find the frames that fail
            if len(chunk) == 1:
                return [FrameError("decoder failure", repr(err))]
        return [self._decode_isolated([frame])[0] for frame in chunk]

    def general_work(self, input_items, output_items):
        from semcom_core.symbols import FrameError

        inp = input_items[0]
        n = len(inp)
        try:
            frames = complete_frames(self, n, self._len_key)
            if frames is None:
                return 0
            segments, consumed = frames
            tagged = []
            for seg in segments:
                if seg.announced is None:
                    self.drop("untagged samples", f"{seg.length} samples without a {self._len_key_name} tag")
                else:
                    tagged.append(seg)
            parsed = self.parse(tagged, [inp[s.start: s.start + s.length] for s in tagged]) if tagged else []
            good = []
            for seg, item in zip(tagged, parsed):
                if isinstance(item, FrameError):
                    self.drop(item.reason, item.detail)
                else:
                    good.append((seg, item))
            use_torch_threads(self.torch_threads)
            for lo in range(0, len(good), self.max_batch):
                chunk = good[lo: lo + self.max_batch]
                for (seg, _), output in zip(chunk, self._decode_isolated(chunk)):
                    if isinstance(output, FrameError):
                        self.drop(output.reason, output.detail)
                        continue
                    extra, values = output
                    if not np.isfinite(values).all():
                        self.drop("non-finite output", "the decoder gave NaN or inf for this frame")
                        continue
                    try:
                        self.publish({**self.meta(seg), **extra}, values)
                    except Exception as err:  # noqa: BLE001 - a frame whose tags cannot be published
                        self.drop("unpublishable tags", repr(err))
            self.consume(0, consumed)
            return 0
        except Exception as err:  # noqa: BLE001 - never raise inside work()
            self.drop("receiver failure", repr(err))
            self.consume(0, n)
            return 0
