#!/usr/bin/env python3
#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA for semcom.channel: measured SNR, tags through, runtime SNR, errors at construction."""

import os
import sys

import numpy as np
import pytest
from gnuradio import blocks, gr

try:
    from gnuradio import semcom
    from gnuradio.semcom import base, testing
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import semcom
    from semcom import base, testing

K = 64


def _qpsk_frames(n, k=K, seed=0):
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, size=(n, k, 2))
    return ((2 * bits[..., 0] - 1) + 1j * (2 * bits[..., 1] - 1)).astype(np.complex64) / np.sqrt(2)


def _run(ch, frames, frame_tags=None, timeout=30.0):
    tb = gr.top_block()
    src = testing.frames_source(list(frames), frame_tags)
    sink = blocks.vector_sink_c()
    tb.connect(src, ch, sink)
    total = sum(len(f) for f in frames)
    ok = testing.run_bounded(tb, lambda: len(sink.data()) >= total, timeout)
    assert ok, f"channel passed {len(sink.data())} of {total} samples"
    return np.asarray(sink.data(), dtype=np.complex64), testing.tags_by_key(sink)


def _measured_snr_db(x, y):
    return 10 * np.log10(np.mean(np.abs(x) ** 2) / np.mean(np.abs(y - x) ** 2))


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_awgn_measured_snr_matches_setting(snr_db):
    frames = _qpsk_frames(300)
    ch = semcom.channel("awgn", snr_db, seed=1)
    y, _ = _run(ch, frames)
    # 19200 complex noise samples: the estimate's std is about 0.03 dB
    assert abs(_measured_snr_db(frames.reshape(-1), y) - snr_db) < 0.2
    assert ch.frames() == 300 and ch.malformed() == 0


def test_tags_pass_through_and_snr_is_tagged():
    n = 50
    frames = _qpsk_frames(n)
    tags = [{"index": 7 * i, "label": i % 10, "z_min": -1.5, "z_max": 2.0} for i in range(n)]
    ch = semcom.channel("rayleigh", 12.0, csi="perfect", seed=3)
    y, out_tags = _run(ch, frames, tags)
    assert y.size == n * K and np.isfinite(y).all()
    assert [o for o, _ in out_tags["packet_len"]] == [i * K for i in range(n)]
    assert [v for _, v in out_tags["index"]] == [7 * i for i in range(n)]
    assert [v for _, v in out_tags["label"]] == [i % 10 for i in range(n)]
    assert all(v == -1.5 for _, v in out_tags["z_min"])
    assert [o for o, _ in out_tags["snr_db"]] == [i * K for i in range(n)]
    assert all(v == 12.0 for _, v in out_tags["snr_db"])


def test_rayleigh_perfect_csi_equalised_noise_grows_in_fades():
    frames = _qpsk_frames(400)
    ch = semcom.channel("rayleigh", 10.0, seed=5)
    y, _ = _run(ch, frames)
    x = frames.reshape(-1)
    # zero forcing divides the noise by |h|: the average SNR after equalisation is below the nominal one
    assert _measured_snr_db(x, y) < 10.0
    # ... but the symbols are still recognisably the transmitted ones in most frames
    err = np.abs(y - x).reshape(400, K).mean(axis=1)
    assert np.median(err) < 0.5


def test_set_snr_db_at_runtime():
    ch = semcom.channel("awgn", 0.0, seed=2)
    ch.set_snr_db(25.0)
    assert ch.snr_db() == 25.0
    frames = _qpsk_frames(200)
    y, tags = _run(ch, frames)
    assert abs(_measured_snr_db(frames.reshape(-1), y) - 25.0) < 0.3
    assert all(v == 25.0 for _, v in tags["snr_db"])
    with pytest.raises(ValueError):
        ch.set_snr_db(float("nan"))


def test_untagged_samples_are_counted_not_fatal():
    frames = _qpsk_frames(10)
    data = np.concatenate([np.ones(5, np.complex64), frames.reshape(-1)])   # 5 samples without a tag first
    tag_list = [testing.make_tag(5 + i * K, "packet_len", K) for i in range(10)]
    ch = semcom.channel("awgn", 30.0)
    tb = gr.top_block()
    src = blocks.vector_source_c(data.tolist(), False, 1, tag_list)
    sink = blocks.vector_sink_c()
    tb.connect(src, ch, sink)
    assert testing.run_bounded(tb, lambda: len(sink.data()) >= data.size)
    assert ch.frames() == 10 and ch.malformed() == 1


def test_an_implausible_frame_comes_out_as_nan_alone_and_absurd_snrs_are_refused():
    frames = _qpsk_frames(12)
    frames[5, 3] = 3.4e38                                   # finite, but no signal has this power
    ch = semcom.channel("awgn", 100.0, snr_tag_key="tx_snr_db")
    y, _ = _run(ch, frames, [{"tx_snr_db": -1e6}] + [{}] * 11)
    y = y.reshape(12, K)
    assert ch.drop_reasons() == {"implausible input power": 1}
    assert np.isnan(y[5]).all()
    others = [i for i in range(12) if i != 5]
    np.testing.assert_allclose(y[others], frames[others], atol=1e-4)      # 100 dB: the input, as sent
    assert ch.bad_messages() == 1 and ch.snr_db() == 100.0               # the -1e6 dB tag was refused
    with pytest.raises(ValueError, match="within"):
        ch.set_snr_db(-1e6)


def test_input_off_unit_power_is_counted_once_and_still_passes():
    quiet = _qpsk_frames(40) * np.float32(0.5)            # -6 dB: the SNR delivered is 6 dB below snr_db
    ch = semcom.channel("awgn", 20.0, seed=2)
    y, _ = _run(ch, quiet)
    assert ch.drop_reasons() == {"input not at unit power": 1} and ch.frames() == 40
    assert ch.input_power() == pytest.approx(0.25, rel=1e-5)
    assert y.shape == (40 * K,)                           # nothing dropped
    unit = semcom.channel("awgn", 20.0, seed=2)
    _run(unit, _qpsk_frames(40))
    assert unit.drop_reasons() == {} and unit.input_power() == pytest.approx(1.0, rel=1e-5)


def test_split_frames_handles_broken_streams():
    import pmt

    L = pmt.from_long
    segs, used = base.split_frames([(0, L(4)), (4, L(4))], 10)
    assert used == 10
    assert [(s.start, s.length, s.ok) for s in segs] == [(0, 4, True), (4, 4, True), (8, 2, False)]
    # a frame whose end has not arrived stops the split
    segs, used = base.split_frames([(0, L(4)), (4, L(8))], 10)
    assert used == 4 and [(s.start, s.ok) for s in segs] == [(0, True)]
    # cut short by the next tag; untagged samples first
    segs, used = base.split_frames([(2, L(6)), (5, L(3))], 8)
    assert [(s.start, s.length, s.announced, s.ok) for s in segs] == [
        (0, 2, None, False), (2, 3, 6, False), (5, 3, 3, True)]
    # unusable lengths never stall the stream
    segs, used = base.split_frames([(0, L(10 ** 9))], 100)
    assert used == 100 and not segs[0].ok
    segs, used = base.split_frames([(0, pmt.intern("x")), (3, L(2))], 5)
    assert used == 5 and [(s.length, s.ok) for s in segs] == [(3, False), (2, True)]


@pytest.mark.parametrize("kwargs", [{"channel": "nope"}, {"channel": "awgn", "csi": "guess"},
                                    {"channel": "awgn", "extra": {"bogus": 1}}])
def test_bad_arguments_fail_at_construction(kwargs):
    with pytest.raises(ValueError):
        semcom.channel(**kwargs)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
