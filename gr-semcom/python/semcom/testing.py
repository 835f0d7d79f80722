#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Helpers for the QA tests: bundles, tagged sources, PDU collection, bounded waits."""

from __future__ import annotations

import time

import numpy as np
import pmt
from gnuradio import blocks, gr

from . import common


def make_bundle(path, q=None) -> str:
    """A randomly initialised Fashion-MNIST bundle (1x28x28, k/n = 1/12) at ``path``."""
    from semcom_core.bundle import make_untrained_bundle

    return str(make_untrained_bundle(path, q=q))


def wait_for(condition, timeout: float = 30.0, interval: float = 0.01) -> bool:
    """Poll ``condition()`` until it is true or ``timeout`` seconds passed; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return bool(condition())
        time.sleep(interval)


def make_tag(offset: int, key: str, value) -> gr.tag_t:
    tag = gr.tag_t()
    tag.offset = int(offset)
    tag.key = pmt.intern(key)
    tag.value = value if isinstance(value, pmt.pmt_base) else common.to_tag_value(value)
    return tag


def frames_source(frames, frame_tags=None, len_tag_key="packet_len", with_len_tag=True):
    """``blocks.vector_source_c`` emitting the frames back to back.

    ``frames``: list of complex arrays; ``frame_tags``: per frame a dict of
    extra tags for its first sample. Each frame gets a ``packet_len`` tag of
    its own length unless ``with_len_tag`` is False (or the dict sets one).
    """
    data, tags, offset = [], [], 0
    frame_tags = frame_tags or [{} for _ in frames]
    for frame, extra in zip(frames, frame_tags):
        frame = np.asarray(frame, dtype=np.complex64).reshape(-1)
        extra = dict(extra)
        if with_len_tag and len_tag_key not in extra:
            extra[len_tag_key] = len(frame)
        for key, value in extra.items():
            tags.append(make_tag(offset, key, value))
        data.append(frame)
        offset += len(frame)
    samples = np.concatenate(data) if data else np.zeros(0, np.complex64)
    return blocks.vector_source_c(samples.tolist(), False, 1, tags)


def pdus(debug) -> list:
    """(meta dict, float32 payload) of every PDU a ``message_debug`` stored."""
    return [common.parse_pdu(debug.get_message(i)) for i in range(debug.num_messages())]


def tags_by_key(sink) -> dict:
    """``{key: [(offset, python value), ...]}`` of a vector sink's tags."""
    out: dict = {}
    for tag in sink.tags():
        out.setdefault(pmt.symbol_to_string(tag.key), []).append((tag.offset, pmt.to_python(tag.value)))
    for values in out.values():
        values.sort()
    return out


def post(block, port: str, msg) -> None:
    """Deliver a message to a running block's input port."""
    block.to_basic_block()._post(pmt.intern(port), msg)


def run_bounded(tb, condition, timeout: float = 30.0) -> bool:
    """``tb.start()``, wait for ``condition()`` (bounded), ``stop()`` and ``wait()``."""
    tb.start()
    try:
        return wait_for(condition, timeout)
    finally:
        tb.stop()
        tb.wait()


class idle_message_source(gr.basic_block):
    """A block with one output message port ``out`` that never publishes.

    A top block only runs blocks it knows through connections; connecting
    this to a message-only block under test lets ``post`` feed it.
    """

    def __init__(self):
        gr.basic_block.__init__(self, name="semcom_idle_message_source", in_sig=None, out_sig=None)
        self.message_port_register_out(pmt.intern("out"))
