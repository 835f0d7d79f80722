#!/usr/bin/env python3
#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA for semcom.image_source: dataset items as PDUs, clean stop."""

import os
import sys
import time

import numpy as np
import pytest
from gnuradio import blocks, gr

try:
    from gnuradio import semcom
    from gnuradio.semcom import testing
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import semcom
    from semcom import testing


def _dataset():
    from semcom_core.data import DatasetError, load_dataset

    try:
        return load_dataset("fashion-mnist", split="test")
    except DatasetError as err:
        pytest.skip(f"Fashion-MNIST not available: {err}")


def _collect(src, expected, timeout=30.0):
    tb = gr.top_block()
    debug = blocks.message_debug()
    tb.msg_connect(src, "pdu", debug, "store")
    ok = testing.run_bounded(tb, lambda: debug.num_messages() >= expected, timeout)
    assert ok, f"got {debug.num_messages()} of {expected} PDUs"
    return testing.pdus(debug)


def test_emits_dataset_items_as_pdus():
    ds = _dataset()
    src = semcom.image_source("fashion-mnist", "test", 25, start_index=100)
    out = _collect(src, 25)
    assert len(out) == 25 and src.emitted() == 25 and src.finished()
    for i, (meta, pixels) in enumerate(out):
        image, label = ds[100 + i]
        assert meta["index"] == 100 + i
        assert meta["label"] == label
        assert list(meta["shape"]) == [1, 28, 28]
        assert pixels.dtype == np.float32 and pixels.size == 784
        np.testing.assert_allclose(pixels, image.numpy().reshape(-1), atol=1e-7)
        assert 0.0 <= pixels.min() and pixels.max() <= 1.0


def test_bundle_path_selects_the_cards_dataset(tmp_path):
    _dataset()
    bundle = testing.make_bundle(tmp_path / "b")
    src = semcom.image_source(bundle, "test", 3)
    assert src.dataset_name == "fashion-mnist"
    assert [m["index"] for m, _ in _collect(src, 3)] == [0, 1, 2]


def test_stop_ends_the_emitting_thread():
    _dataset()
    src = semcom.image_source("fashion-mnist", "test", 1000, interval_ms=50)
    tb = gr.top_block()
    debug = blocks.message_debug()
    tb.msg_connect(src, "pdu", debug, "store")
    tb.start()
    assert testing.wait_for(lambda: src.emitted() >= 2, 10.0)
    t0 = time.monotonic()
    tb.stop()
    tb.wait()
    assert time.monotonic() - t0 < 5.0
    assert src.finished() and 2 <= src.emitted() < 1000


def test_bad_arguments_are_errors():
    _dataset()
    with pytest.raises(ValueError):
        semcom.image_source("no-such-dataset", "test", 1)
    with pytest.raises(ValueError):
        semcom.image_source("fashion-mnist", "test", 1, start_index=10 ** 6)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
