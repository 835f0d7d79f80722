#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Blocks that turn each input frame of a tagged stream into an output frame (the OFDM framer and payload
equaliser): the frame bookkeeping, once."""

from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr

from .log import DropCounter, OnceLog
from .stream import frames_for_output, write_frames


class FrameMapper(DropCounter, gr.basic_block):
    """Input frames (a ``in_key`` tag on each first item) in; output frames (``out_key`` tag) out.

    Each call takes the complete input frames whose outputs fit (:meth:`output_size`), turns them into
    ``(data, tags)`` frames (:meth:`map_frames`, a subclass's; it drops and counts what it cannot use) and
    writes those in the same call. A failure drops the window, counted as ``failure``; never raised.
    """

    failure = "failure"

    def __init__(self, name: str, in_sig, in_key: str, out_key: str):
        gr.basic_block.__init__(self, name=name, in_sig=in_sig, out_sig=[np.complex64])
        self._in_key_name = str(in_key)
        self._in_key, self._out_key = pmt.intern(self._in_key_name), pmt.intern(str(out_key))
        self._log = OnceLog(f"{name}{self.unique_id()}")
        self.set_tag_propagation_policy(gr.TPP_DONT)

    def output_size(self, seg) -> int:
        """Output items of an input frame (segment)."""
        raise NotImplementedError

    def map_frames(self, segments, inp) -> list:
        """``(data, tags)`` of the output frames for these input frames."""
        raise NotImplementedError

    def forecast(self, noutput_items, ninputs):
        return [1] * ninputs

    def general_work(self, input_items, output_items):
        inp, out = input_items[0], output_items[0]
        try:
            fitting = frames_for_output(self, len(inp), len(out), self._in_key, self.output_size)
            if fitting is None:
                return 0
            taken, consumed = fitting
            written = write_frames(self, out, self.map_frames(taken, inp), self._out_key)
            self.consume(0, consumed)
            return written
        except Exception as err:  # noqa: BLE001 - never raise inside work()
            self.drop(self.failure, repr(err))
            self.consume(0, len(inp))
            return 0
