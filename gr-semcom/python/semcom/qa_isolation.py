#!/usr/bin/env python3
#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA: one bad frame or tag in a window of good ones is dropped alone, with its reason; every other frame
comes out exactly as in the clean run, and sent = delivered + dropped."""

import os
import sys

import numpy as np
import pmt
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

N = 12          # frames per window
BAD = 5         # the bad one
HUGE_INDEX = pmt.from_uint64(2**64 - 1)      # a tag no signed 64-bit PMT holds


@pytest.fixture(scope="module")
def analog_bundle(tmp_path_factory):
    return testing.make_bundle(tmp_path_factory.mktemp("bundle") / "b")


@pytest.fixture(scope="module")
def quantised_bundle(tmp_path_factory):
    return testing.make_bundle(tmp_path_factory.mktemp("bundle") / "bq", q=4)


def _frames(bundle, quant_bits):
    link = base.load_bundle(bundle).link(quant_bits)
    with torch.no_grad():
        sent = link.transmit(torch.from_numpy(testing.random_images(N)))
    frames = [row.astype(np.complex64) for row in sent.symbols.numpy()]
    tags = [{"index": i, **(sent.side.rows()[i].to_tags() if quant_bits else {})} for i in range(N)]
    return frames, tags


def _receive(bundle, quant_bits, frames, tags):
    tb = gr.top_block()
    rx = semcom.jscc_rx(bundle, quant_bits, 64)
    debug = blocks.message_debug()
    tb.connect(testing.frames_source(frames, tags), rx)
    tb.msg_connect(rx, "pdu", debug, "store")
    testing.run_bounded(tb, lambda: debug.num_messages() + rx.dropped() >= len(frames), 30.0)
    return rx, {m["index"]: payload for m, payload in testing.pdus(debug)}


def _bad_symbols(value):
    def spoil(frames, tags):
        frames[BAD] = frames[BAD].copy()
        frames[BAD][3] = value
    return spoil


def _bad_tag(key, value):
    def spoil(frames, tags):
        tags[BAD][key] = value
    return spoil


@pytest.mark.parametrize("quantised, spoil, reason", [
    (False, _bad_symbols(3.4e38 + 0j), "implausible amplitude"),
    (False, _bad_symbols(np.nan), "non-finite samples"),
    (False, _bad_tag("index", HUGE_INDEX), "unpublishable tags"),
    (True, _bad_tag("z_max", 1e38), "inconsistent side information"),
    (True, _bad_tag("z_min", "low"), "contradictory side information"),
    (True, _bad_tag("q", 9), "inconsistent side information"),
])
def test_receiver_drops_exactly_the_bad_frame(analog_bundle, quantised_bundle, quantised, spoil, reason):
    bundle, q = (quantised_bundle, 4) if quantised else (analog_bundle, 0)
    frames, tags = _frames(bundle, q)
    _, clean = _receive(bundle, q, frames, tags)
    assert sorted(clean) == list(range(N))
    frames, tags = list(frames), [dict(t) for t in tags]
    spoil(frames, tags)
    rx, got = _receive(bundle, q, frames, tags)
    assert rx.drop_reasons() == {reason: 1}, rx.drop_reasons()
    assert sorted(got) == [i for i in range(N) if i != BAD]
    for i, payload in got.items():
        np.testing.assert_array_equal(payload, clean[i])           # bit-exact to the clean run
    assert rx.decoded() + rx.dropped() == N


def _pdu(index, image):
    meta = pmt.make_dict()
    meta = pmt.dict_add(meta, pmt.intern("index"), index if isinstance(index, pmt.pmt_base) else pmt.from_long(index))
    flat = image.reshape(-1).astype(np.float32)
    return pmt.cons(meta, pmt.init_f32vector(flat.size, flat.tolist()))


def _window_with_bad_image(x, bad: str, pixel) -> list:
    """PDUs of the images ``x``; image BAD spoiled: an index no tag can hold, or a NaN at ``pixel``."""
    pdus = [_pdu(i, x[i]) for i in range(N)]
    if bad == "index":
        pdus[BAD] = _pdu(HUGE_INDEX, x[BAD])
    else:
        spoiled = x[BAD].copy()
        spoiled[pixel] = np.nan
        pdus[BAD] = _pdu(BAD, spoiled)
    return pdus


def _transmit(bundle, pdus):
    tb = gr.top_block()
    tx = semcom.jscc_tx(bundle, 0, 64)
    sink = blocks.vector_sink_c()
    tb.connect(tx, sink)
    tb.start()
    try:
        for pdu in pdus:
            testing.post(tx, "pdu", pdu)
        testing.wait_for(lambda: tx.received() >= len(pdus) and tx.backlog() == 0
                         and tx.sent() + tx.dropped() >= len(pdus), 30.0)
        testing.wait_for(lambda: len(sink.data()) >= tx.sent() * tx.k, 5.0)
    finally:
        tb.stop()
        tb.wait()
    data = np.asarray(sink.data(), np.complex64).reshape(-1, tx.k)
    indices = [v for _, v in testing.tags_by_key(sink)["index"]]
    return tx, dict(zip(indices, data))


@pytest.mark.parametrize("bad, reason", [
    ("index", "bad tag"),
    ("nan", "non-finite pixel values"),
])
def test_transmitter_drops_exactly_the_bad_image(analog_bundle, bad, reason):
    x = testing.random_images(N, seed=4)
    _, clean = _transmit(analog_bundle, [_pdu(i, x[i]) for i in range(N)])
    pdus = _window_with_bad_image(x, bad, pixel=(0, 0, 0))
    tx, got = _transmit(analog_bundle, pdus)
    assert tx.drop_reasons() == {reason: 1}, tx.drop_reasons()
    assert sorted(got) == [i for i in range(N) if i != BAD]
    for i, frame in got.items():
        np.testing.assert_array_equal(frame, clean[i])
    assert tx.sent() + tx.dropped() == N


def _burst_images(bundle, quant_bits, frames, tags):
    """``frames`` through ``ofdm_tx``, received offline by the library's burst receiver: index -> payload."""
    from semcom_core.link.air import BurstReceiver

    tb = gr.top_block()
    tx = semcom.ofdm_tx()
    sink = blocks.vector_sink_c()
    tb.connect(testing.frames_source(frames, tags), tx, sink)
    testing.run_bounded(tb, lambda: tx.sent() + tx.dropped() >= len(frames)
                        and len(sink.data()) >= tx.samples_sent(), 30.0)
    rx = BurstReceiver(tx.layout)
    got = rx.feed(np.asarray(sink.data(), np.complex64)) + rx.flush()
    return tx, {int(image.tags["index"]): image.payload for image in got}


@pytest.mark.parametrize("spoil, reason", [
    (_bad_symbols(3.4e38 + 0j), "implausible symbol power"),
    (_bad_symbols(np.nan), "non-finite samples"),
    (_bad_tag("index", HUGE_INDEX), "side information does not fit the header"),
    (_bad_tag("z_max", 1e39), "side information does not fit the header"),
    (_bad_tag("z_min", "low"), "side information does not fit the header"),
    (_bad_tag("bundle_id", 70000), "side information does not fit the header"),
])
def test_ofdm_tx_drops_exactly_the_bad_frame(quantised_bundle, spoil, reason):
    frames, tags = _frames(quantised_bundle, 4)
    _, clean = _burst_images(quantised_bundle, 4, frames, tags)
    assert sorted(clean) == list(range(N))
    frames, tags = list(frames), [dict(t) for t in tags]
    spoil(frames, tags)
    tx, got = _burst_images(quantised_bundle, 4, frames, tags)
    assert tx.drop_reasons() == {reason: 1}, tx.drop_reasons()
    assert sorted(got) == [i for i in range(N) if i != BAD]
    for i, payload in got.items():
        np.testing.assert_allclose(payload, clean[i], atol=1e-4)     # noiseless: the same symbols
    assert tx.sent() + tx.dropped() == N


@pytest.fixture(scope="module")
def amijscc(tmp_path_factory):
    from semcom_core.bundles import make_untrained_bundle

    return str(make_untrained_bundle(tmp_path_factory.mktemp("bundle") / "a", q=8, method="a-mijscc"))


def _mijscc_chain(bundle, pdus):
    """mijscc_tx -> mijscc_rx; the two blocks and index -> image."""
    tb = gr.top_block()
    tx = semcom.mijscc_tx(bundle, -1, True, 0.1, 64)
    rx = semcom.mijscc_rx(bundle, -1, 64)
    debug = blocks.message_debug()
    tb.connect(tx, rx)
    tb.msg_connect(rx, "pdu", debug, "store")
    tb.start()
    try:
        for pdu in pdus:
            testing.post(tx, "pdu", pdu)
        testing.wait_for(lambda: tx.sent() + tx.dropped() >= len(pdus) and rx.decoded() + rx.dropped() >= tx.sent()
                         and debug.num_messages() >= rx.decoded(), 30.0)
    finally:
        tb.stop()
        tb.wait()
    return tx, rx, {m["index"]: payload for m, payload in testing.pdus(debug)}


@pytest.mark.parametrize("bad, reason", [("index", "bad tag"), ("nan", "non-finite pixel values")])
def test_mijscc_chain_loses_exactly_the_bad_image(amijscc, bad, reason):
    x = testing.random_images(N, seed=6)
    _, _, clean = _mijscc_chain(amijscc, [_pdu(i, x[i]) for i in range(N)])
    assert sorted(clean) == list(range(N))
    pdus = _window_with_bad_image(x, bad, pixel=(0, 3, 3))
    tx, rx, got = _mijscc_chain(amijscc, pdus)
    assert tx.drop_reasons() == {reason: 1} and rx.dropped() == 0
    assert sorted(got) == [i for i in range(N) if i != BAD]
    for i, image in got.items():
        np.testing.assert_allclose(image, clean[i], atol=1e-5)


def test_mijscc_rx_drops_a_frame_of_implausible_amplitude_alone(amijscc):
    from semcom_core.symbols import frame_symbols_batch

    bundle = base.load_bundle(amijscc)
    with torch.no_grad():
        sent = bundle.transmit(torch.from_numpy(testing.random_images(N, seed=7)), noise_var=0.1)
    frames = [f.astype(np.complex64) for f in frame_symbols_batch([p for p, _ in sent], [s for _, s in sent])]
    tags = [{"index": i} for i in range(N)]
    frames[BAD] = frames[BAD].copy()
    frames[BAD][-1] = 3.4e38                           # in the payload, after a valid header
    tb = gr.top_block()
    rx = semcom.mijscc_rx(amijscc, -1, 64)
    debug = blocks.message_debug()
    tb.connect(testing.frames_source(frames, tags), rx)
    tb.msg_connect(rx, "pdu", debug, "store")
    # the counters move before the PDUs reach message_debug: wait for what the test reads
    testing.run_bounded(tb, lambda: debug.num_messages() + rx.dropped() >= N, 30.0)
    got = {m["index"] for m, _ in testing.pdus(debug)}
    assert rx.drop_reasons() == {"implausible amplitude": 1} and got == set(range(N)) - {BAD}
