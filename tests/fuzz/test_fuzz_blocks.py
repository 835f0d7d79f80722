"""Property-based fuzzing (Hypothesis) of the GNU Radio blocks: windows of frames in which any frame may be
spoiled in any of the ways a careless or hostile source spoils them. Whatever the mix, each spoiled frame is
dropped and counted, every other frame comes out as in the clean run, and sent = delivered + dropped.
``HYPOTHESIS_PROFILE=long`` (``make fuzz``) runs many more windows."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

gr = pytest.importorskip("gnuradio.gr")
pmt = pytest.importorskip("pmt")
from gnuradio import blocks  # noqa: E402
from gnuradio.semcom import base, testing  # noqa: E402

import gnuradio.semcom as semcom  # noqa: E402

N = 8
WINDOWS = 1000 if os.environ.get("HYPOTHESIS_PROFILE") == "long" else 40
BLOCK_SETTINGS = settings(max_examples=WINDOWS, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

#: ways to spoil a frame: name -> (frame, tags) -> (frame, tags)
SPOILERS = {
    "nan": lambda f, t: (np.where(np.arange(f.size) == 2, np.nan, f).astype(np.complex64), t),
    "huge": lambda f, t: (np.where(np.arange(f.size) == 2, 3.4e38, f).astype(np.complex64), t),
    "short": lambda f, t: (f[: f.size // 2], t),
    "index_uint64": lambda f, t: (f, {**t, "index": pmt.from_uint64(2**64 - 1)}),
    "z_huge": lambda f, t: (f, {**t, "z_max": 1e39}),
    "z_text": lambda f, t: (f, {**t, "z_min": "low"}),
    "q_wrong": lambda f, t: (f, {**t, "q": 9}),
}
_windows = st.lists(st.one_of(st.none(), st.sampled_from(sorted(SPOILERS))), min_size=N, max_size=N)


@pytest.fixture(scope="module")
def quantised(tmp_path_factory):
    """A q=4 bundle, N frames of its symbols with their tags, and what jscc_rx makes of them."""
    import torch

    bundle = testing.make_bundle(tmp_path_factory.mktemp("bundle") / "bq", q=4)
    link = base.load_bundle(bundle).link(4)
    with torch.no_grad():
        sent = link.transmit(torch.from_numpy(np.random.default_rng(5).random((N, 1, 28, 28), dtype=np.float32)))
    frames = [row.astype(np.complex64) for row in sent.symbols.numpy()]
    tags = [{"index": i, **sent.side.rows()[i].to_tags()} for i in range(N)]
    _, clean = _jscc_rx(bundle, frames, tags)
    return bundle, frames, tags, clean


def _spoiled(frames, tags, plan):
    out_f, out_t = [], []
    for f, t, how in zip(frames, tags, plan):
        f, t = SPOILERS[how](f, dict(t)) if how else (f, dict(t))
        out_f.append(f)
        out_t.append(t)
    return out_f, out_t


def _jscc_rx(bundle, frames, tags):
    tb = gr.top_block()
    rx = semcom.jscc_rx(bundle, 4, 64)
    debug = blocks.message_debug()
    tb.connect(testing.frames_source(frames, tags), rx)
    tb.msg_connect(rx, "pdu", debug, "store")
    testing.run_bounded(tb, lambda: debug.num_messages() + rx.dropped() >= len(frames), 30.0)
    return rx, {m["index"]: payload for m, payload in testing.pdus(debug)}


@BLOCK_SETTINGS
@given(plan=_windows)
def test_jscc_rx_drops_each_spoiled_frame_alone(quantised, plan):
    bundle, frames, tags, clean = quantised
    rx, got = _jscc_rx(bundle, *_spoiled(frames, tags, plan))
    good = [i for i, how in enumerate(plan) if how is None]
    assert sorted(got) == good
    for i in good:
        np.testing.assert_allclose(got[i], clean[i], atol=1e-5)
    assert rx.decoded() == len(good) and rx.dropped() == N - len(good)
    assert all(np.isfinite(p).all() for p in got.values())


@BLOCK_SETTINGS
@given(plan=_windows)
def test_ofdm_tx_drops_each_spoiled_frame_alone(quantised, plan):
    from semcom_core.link.air import BurstReceiver

    _, frames, tags, _ = quantised
    frames, tags = _spoiled(frames, tags, plan)
    tb = gr.top_block()
    tx = semcom.ofdm_tx()
    sink = blocks.vector_sink_c()
    tb.connect(testing.frames_source(frames, tags), tx, sink)
    testing.run_bounded(tb, lambda: tx.sent() + tx.dropped() >= N and len(sink.data()) >= tx.samples_sent(), 30.0)
    rx = BurstReceiver(tx.layout)
    got = {int(image.tags["index"]): image.payload for image in
           rx.feed(np.asarray(sink.data(), np.complex64)) + rx.flush()}
    # a transmitter does not know the bundle's q: another q is sent (the receiver refuses it); a frame cut
    # short contradicts its mask end tag and is not
    sendable = [i for i, how in enumerate(plan) if how in (None, "q_wrong")]
    assert sorted(got) == sendable
    for i in sendable:
        np.testing.assert_allclose(got[i], frames[i], atol=1e-3)
    assert tx.sent() == len(sendable) and tx.sent() + tx.dropped() == N


@BLOCK_SETTINGS
@given(plan=st.lists(st.sampled_from([None, None, "nan", "huge"]), min_size=N, max_size=N))
def test_channel_lets_a_spoiled_frame_out_as_nan_alone(plan):
    rng = np.random.default_rng(1)
    frames = [((rng.standard_normal(16) + 1j * rng.standard_normal(16)) / np.sqrt(2)).astype(np.complex64)
              for _ in range(N)]
    sent, _ = _spoiled(frames, [{}] * N, plan)
    ch = semcom.channel("awgn", 100.0)
    tb = gr.top_block()
    sink = blocks.vector_sink_c()
    tb.connect(testing.frames_source(sent, [{}] * N), ch, sink)
    testing.run_bounded(tb, lambda: len(sink.data()) >= 16 * N, 30.0)
    out = np.asarray(sink.data(), np.complex64).reshape(N, 16)
    for i, how in enumerate(plan):
        if how is None:
            np.testing.assert_allclose(out[i], frames[i], atol=1e-4)
        else:
            assert np.isnan(out[i]).all()
    assert sum(ch.drop_reasons().values()) == sum(how is not None for how in plan)
