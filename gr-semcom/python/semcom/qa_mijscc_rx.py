#!/usr/bin/env python3
#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA for semcom.mijscc_rx: side information from the header, corrupt frames dropped and counted."""

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
def amijscc(tmp_path_factory):
    from semcom_core.bundles import make_untrained_bundle

    return str(make_untrained_bundle(tmp_path_factory.mktemp("bundle") / "a", q=8, method="a-mijscc"))


def _sent(bundle, x, nv):
    return base.load_bundle(bundle).transmit(torch.from_numpy(x), noise_var=nv)


def _run_rx(bundle, frames, frame_tags, expected_total, quant_bits=-1, timeout=30.0):
    """Run frames through the receiver until decoded + dropped reaches ``expected_total``."""
    tb = gr.top_block()
    src = testing.frames_source(frames, frame_tags)
    rx = semcom.mijscc_rx(bundle, quant_bits, 64, precision="fp32")   # compared with the library in fp32
    debug = blocks.message_debug()
    tb.connect(src, rx)
    tb.msg_connect(rx, "pdu", debug, "store")
    ok = testing.run_bounded(
        tb, lambda: rx.decoded() + rx.dropped() >= expected_total and debug.num_messages() >= rx.decoded(), timeout)
    assert ok, f"receiver decoded {rx.decoded()} and dropped {rx.dropped()} of {expected_total}"
    return rx, testing.pdus(debug)


def test_side_info_round_trip_through_the_blocks(amijscc):
    """mijscc_tx -> mijscc_rx: the receiver reads q, end and the range from the header alone."""
    x = testing.random_images(12)
    nv = 10 ** (-9 / 10)
    tb = gr.top_block()
    tx = semcom.mijscc_tx(amijscc, -1, True, nv, 5, precision="fp32")
    rx = semcom.mijscc_rx(amijscc, -1, 5, precision="fp32")
    debug = blocks.message_debug()
    tb.connect(tx, rx)
    tb.msg_connect(rx, "pdu", debug, "store")
    tb.start()
    try:
        for i, image in enumerate(x):
            testing.post(tx, "pdu", base.make_pdu({"index": i, "label": i % 10}, image))
        assert testing.wait_for(lambda: debug.num_messages() >= 12, 30.0)
    finally:
        tb.stop()
        tb.wait()
    sent = _sent(amijscc, x, nv)
    expected, pred = base.load_bundle(amijscc).receive(sent)
    out = testing.pdus(debug)
    assert rx.dropped() == 0 and rx.decoded() == 12
    k = base.load_bundle(amijscc).k
    from semcom_core.symbols import HEADER_SYMBOLS

    for i, (meta, image) in enumerate(out):
        end = sent[i][1].end
        assert meta["index"] == i and meta["label"] == i % 10 and meta["seq"] == i
        assert meta["end"] == end and meta["gamma"] == pytest.approx(end / k)
        assert meta["symbols"] == HEADER_SYMBOLS + end
        assert meta["pred"] == int(pred[i])
        assert meta["tx_noise_var"] == pytest.approx(nv)
        np.testing.assert_allclose(image.reshape(1, 28, 28), expected[i], atol=1e-5)


def test_corrupt_frames_are_dropped_and_counted(amijscc):
    from semcom_core.symbols import HEADER_SYMBOLS, SideInfo, frame_symbols

    k = base.load_bundle(amijscc).k
    x = testing.random_images(4, seed=1)
    sent = _sent(amijscc, x, 10 ** (-6 / 10))
    good = [frame_symbols(p, s) for p, s in sent]
    rng = np.random.default_rng(5)

    flipped = good[1].copy()
    flipped[:HEADER_SYMBOLS] = (rng.choice([-1, 1], HEADER_SYMBOLS) + 1j * rng.choice([-1, 1], HEADER_SYMBOLS)) / np.sqrt(2)
    zrange = frame_symbols(np.zeros(3, np.complex64), SideInfo(q=8, end=3, z_min=1.0, z_max=1.0))   # valid CRC
    too_long = frame_symbols(np.zeros(k + 2, np.complex64), SideInfo(q=8, end=k + 2, z_min=-1.0, z_max=1.0))
    wrong_q = frame_symbols(np.zeros(5, np.complex64), SideInfo(q=4, end=5, z_min=-1.0, z_max=1.0))
    truncated = good[2][:HEADER_SYMBOLS - 10]
    short_payload = good[2][:-1]
    nan = good[3].copy()
    nan[HEADER_SYMBOLS + 1] = np.nan
    frames = [good[0], flipped, zrange, too_long, wrong_q, truncated, short_payload, nan, good[2], good[3]]
    tags = [{"index": i} for i in range(len(frames))]
    rx, out = _run_rx(amijscc, frames, tags, len(frames))
    assert [m["index"] for m, _ in out] == [0, 8, 9]
    assert rx.decoded() == 3 and rx.dropped() == 7
    reasons = rx.drop_reasons()
    assert reasons.pop("inconsistent side information") == 3
    assert reasons.pop("header CRC failure") == 1
    assert reasons.pop("truncated frame") == 1
    assert reasons.pop("payload length mismatch") == 1
    assert reasons.pop("non-finite samples") == 1
    assert reasons == {}
    expected, _ = base.load_bundle(amijscc).receive([sent[0], sent[2], sent[3]])
    np.testing.assert_allclose(np.stack([p for _, p in out]).reshape(expected.shape), expected, atol=1e-5)


def test_frames_cut_short_and_untagged_samples(amijscc):
    from semcom_core.symbols import frame_symbols

    sent = _sent(amijscc, testing.random_images(2, seed=2), 1.0)
    good = [frame_symbols(p, s) for p, s in sent]
    # a frame announcing more samples than it has (cut by the next tag), then a good one
    tags = [{"index": 0, "packet_len": len(good[0]) + 40}, {"index": 1}]
    rx, out = _run_rx(amijscc, [good[0], good[1]], tags, 2)
    assert rx.drop_reasons() == {"truncated frame": 1}
    assert [m["index"] for m, _ in out] == [1]


def test_analog_receiver_drops_quantised_frames(amijscc):
    from semcom_core.symbols import frame_symbols

    x = testing.random_images(2, seed=3)
    b = base.load_bundle(amijscc)
    analog = b.transmit(torch.from_numpy(x), noise_var=0.1, quant_bits=0)
    digital = b.transmit(torch.from_numpy(x), noise_var=0.1)
    frames = [frame_symbols(*digital[0]), frame_symbols(*analog[1])]
    rx, out = _run_rx(amijscc, frames, [{"index": 0}, {"index": 1}], 2, quant_bits=0)
    assert rx.drop_reasons() == {"inconsistent side information": 1}
    assert [m["index"] for m, _ in out] == [1]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
