#!/usr/bin/env python3
#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA for semcom.jscc_rx: exact reconstruction from noiseless symbols, dropped bad frames."""

import os
import sys

import numpy as np
import pytest
import torch
from gnuradio import blocks, gr

try:
    from gnuradio import semcom
    from gnuradio.semcom import base, testing
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import semcom
    from semcom import base, testing


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    return testing.make_bundle(tmp_path_factory.mktemp("bundle") / "b")


def _direct(bundle, x, quant_bits):
    """Symbols, side information and the receiver's expected output, computed with the bundle's link."""
    b = base.load_bundle(bundle)
    link = b.link(quant_bits)
    with torch.no_grad():
        sent = link.transmit(torch.from_numpy(x))
        x_hat = link.receive(sent.symbols, sent.side)
        pred = b.classify(x_hat).argmax(1)
    return sent.symbols.numpy(), sent.side.rows(), x_hat.numpy(), pred.numpy()


def _run_rx(bundle, frames, frame_tags, expected, quant_bits=0, max_batch=64, timeout=30.0):
    tb = gr.top_block()
    src = testing.frames_source(frames, frame_tags)
    rx = semcom.jscc_rx(bundle, quant_bits, max_batch, precision="fp32")   # compared with the library in fp32
    debug = blocks.message_debug()
    tb.connect(src, rx)
    tb.msg_connect(rx, "pdu", debug, "store")
    ok = testing.run_bounded(tb, lambda: debug.num_messages() >= expected, timeout)
    assert ok, f"receiver published {debug.num_messages()} of {expected} PDUs"
    return rx, testing.pdus(debug)


def test_noiseless_frames_decode_exactly_like_the_bundle(bundle_dir):
    n = 100
    x = testing.random_images(n)
    s, _, x_hat, pred = _direct(bundle_dir, x, 0)
    tags = [{"index": 10 + i, "label": i % 10, "snr_db": 99.0} for i in range(n)]
    rx, out = _run_rx(bundle_dir, list(s), tags, n)
    assert rx.dropped() == 0 and rx.decoded() == n
    assert [m["index"] for m, _ in out] == [10 + i for i in range(n)]
    assert [m["seq"] for m, _ in out] == list(range(n))
    assert [m["label"] for m, _ in out] == [i % 10 for i in range(n)]
    assert all(m["snr_db"] == 99.0 for m, _ in out)
    assert [m["pred"] for m, _ in out] == pred.tolist()
    got = np.stack([payload for _, payload in out]).reshape(x_hat.shape)
    np.testing.assert_allclose(got, x_hat, atol=1e-5)


def test_quantised_frames_need_consistent_side_information(tmp_path):
    bundle = testing.make_bundle(tmp_path / "bq", q=4)
    x = testing.random_images(6, seed=3)
    s, sides, x_hat, pred = _direct(bundle, x, 4)
    tags = [{"index": i, **sides[i].to_tags()} for i in range(6)]
    del tags[1]["z_max"]                                    # missing
    tags[2]["z_min"], tags[2]["z_max"] = 3.0, -3.0          # contradictory
    tags[3]["z_min"] = float("nan")                         # not finite
    rx, out = _run_rx(bundle, list(s), tags, 3, quant_bits=4)
    assert rx.dropped() == 3
    assert [m["index"] for m, _ in out] == [0, 4, 5]
    got = np.stack([p for _, p in out]).reshape(3, 1, 28, 28)
    np.testing.assert_allclose(got, x_hat[[0, 4, 5]], atol=1e-5)
    assert [m["pred"] for m, _ in out] == pred[[0, 4, 5]].tolist()


def test_bad_frames_are_dropped_and_counted(bundle_dir):
    x = testing.random_images(5, seed=1)
    s, _, x_hat, _ = _direct(bundle_dir, x, 0)
    k = s.shape[1]
    nan_frame = s[2].copy()
    nan_frame[5] = np.nan
    frames = [s[0], s[1][: k - 3], nan_frame, np.full(k, np.inf, np.complex64), s[3], s[4]]
    tags = [{"index": i} for i in range(6)]
    rx, out = _run_rx(bundle_dir, frames, tags, 3)
    assert [m["index"] for m, _ in out] == [0, 4, 5]
    assert rx.dropped() == 3
    assert set(rx.drop_reasons()) == {"wrong frame length", "non-finite samples"}
    np.testing.assert_allclose(out[1][1].reshape(1, 28, 28), x_hat[3], atol=1e-5)


def test_analog_receiver_rejects_quantised_frames(bundle_dir):
    s, _, _, _ = _direct(bundle_dir, testing.random_images(2, seed=4), 0)
    tags = [{"index": 0, "q": 4, "end": s.shape[1], "z_min": -1.0, "z_max": 1.0}, {"index": 1}]
    rx, out = _run_rx(bundle_dir, list(s), tags, 1)
    assert [m["index"] for m, _ in out] == [1]
    assert rx.dropped() == 1 and set(rx.drop_reasons()) == {"inconsistent side information"}


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
