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
from gnuradio import gr

from .base.pdu import parse_pdu
from .base.stream import frames_source, make_tag  # noqa: F401 - the QA tests use them from here


def make_bundle(path, q=None) -> str:
    """A randomly initialised Fashion-MNIST bundle (1x28x28, k/n = 1/12) at ``path``."""
    from semcom_core.bundles import make_untrained_bundle

    return str(make_untrained_bundle(path, q=q))


def random_images(n: int, seed: int = 0) -> np.ndarray:
    """``n`` random Fashion-MNIST-shaped images, float32 [n, 1, 28, 28] in [0, 1)."""
    return np.random.default_rng(seed).random((n, 1, 28, 28), dtype=np.float32)


def wait_for(condition, timeout: float = 30.0, interval: float = 0.01) -> bool:
    """Poll ``condition()`` until it is true or ``timeout`` seconds passed; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return bool(condition())
        time.sleep(interval)


def pdus(debug) -> list:
    """(meta dict, float32 payload) of every PDU a ``message_debug`` stored."""
    return [parse_pdu(debug.get_message(i)) for i in range(debug.num_messages())]


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
