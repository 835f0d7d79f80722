#!/usr/bin/env python3
#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA for semcom.mijscc_tx: framed side information, noise_var messages, dropped bad PDUs."""

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


@pytest.fixture(scope="module")
def amijscc(tmp_path_factory):
    from semcom_core.bundles import make_untrained_bundle

    return str(make_untrained_bundle(tmp_path_factory.mktemp("bundle") / "a", q=8, method="a-mijscc"))


def _pdu(image, index, label=None):
    meta = {"index": index}
    if label is not None:
        meta["label"] = label
    return base.make_pdu(meta, image)


def _frames(data, tags):
    """Split the sink's samples at the packet_len tags: list of (frame, tags at its start)."""
    starts = tags["packet_len"]
    out = []
    for offset, length in starts:
        at = {key: v for key, values in tags.items() for off, v in values if off == offset}
        out.append((data[offset: offset + length], at))
    return out


class _Run:
    """A running tx -> vector sink flowgraph."""

    def __init__(self, bundle, **kwargs):
        self.tb = gr.top_block()
        self.tx = semcom.mijscc_tx(bundle, **{"precision": "fp32", **kwargs})   # compared with the library in fp32
        self.sink = blocks.vector_sink_c()
        self.tb.connect(self.tx, self.sink)
        self.tb.start()

    def send(self, images, first_index=0):
        before = self.tx.sent() + self.tx.dropped()
        for i, image in enumerate(images):
            testing.post(self.tx, "pdu", _pdu(image, first_index + i, i % 10))
        assert testing.wait_for(lambda: self.tx.sent() + self.tx.dropped() >= before + len(images), 30.0)

    def set_noise_var(self, msg, expect):
        testing.post(self.tx, "noise_var", msg)
        assert testing.wait_for(lambda: abs(self.tx.noise_var() - expect) < 1e-12, 10.0)

    def close(self):
        testing.wait_for(lambda: len(self.sink.data()) >= self.tx.symbols_sent(), 5.0)
        self.tb.stop()
        self.tb.wait()
        return _frames(np.asarray(self.sink.data(), dtype=np.complex64), testing.tags_by_key(self.sink))


def test_frames_carry_the_side_information_of_bundle_transmit(amijscc):
    from semcom_core.symbols import HEADER_SYMBOLS, parse_frame

    x = testing.random_images(20)
    nv = 10 ** (-12 / 10)
    run = _Run(amijscc, quant_bits=-1, adaptive=True, noise_var=nv, max_batch=7)
    run.send(x)
    frames = run.close()
    assert run.tx.dropped() == 0 and run.tx.sent() == 20 and len(frames) == 20
    expected = base.load_bundle(amijscc).transmit(torch.from_numpy(x), noise_var=nv)
    total = 0
    for i, ((frame, tags), (payload, side)) in enumerate(zip(frames, expected)):
        got_payload, got_side = parse_frame(frame)
        assert got_side == side
        np.testing.assert_allclose(got_payload, payload, atol=1e-6)
        assert len(frame) == HEADER_SYMBOLS + side.end
        assert tags["index"] == i and tags["label"] == i % 10 and tags["end"] == side.end
        assert tags["tx_noise_var"] == pytest.approx(nv) and tags["tx_snr_db"] == pytest.approx(12.0)
        total += len(frame)
    assert run.tx.symbols_sent() == total
    assert run.tx.payload_symbols_sent() == total - 20 * HEADER_SYMBOLS
    assert run.tx.last_end() == expected[-1][1].end


def test_noise_var_message_changes_the_symbols_per_image(amijscc):
    x = testing.random_images(16, seed=1)
    run = _Run(amijscc, quant_bits=-1, adaptive=True)
    ends = {}
    for snr, msg in ((0.0, pmt.from_double(1.0)),
                     (10.0, pmt.to_pmt({"snr_db": 10.0})),
                     (30.0, pmt.to_pmt({"noise_var": 1e-3}))):
        run.set_noise_var(msg, 10 ** (-snr / 10))
        start = run.tx.sent()
        run.send(x, first_index=100 * int(snr))
        ends[snr] = start
    # invalid messages are counted and ignored
    for bad in (pmt.intern("loud"), pmt.from_double(-1.0), pmt.from_double(float("nan")), pmt.to_pmt({"x": 1}),
                pmt.from_double(0.0)):
        testing.post(run.tx, "noise_var", bad)
    assert testing.wait_for(lambda: run.tx.bad_noise_var() == 5, 10.0)
    assert run.tx.noise_var() == pytest.approx(1e-3)
    frames = run.close()
    per = {snr: [t["end"] for _, t in frames[start: start + 16]] for snr, start in ends.items()}
    assert all(t["tx_noise_var"] == pytest.approx(1.0) for _, t in frames[:16])
    # lower noise -> fewer or equal symbols, image by image (the mask is monotone in the noise)
    assert all(a >= b for a, b in zip(per[0.0], per[10.0]))
    assert all(a >= b for a, b in zip(per[10.0], per[30.0]))
    assert sum(per[0.0]) > sum(per[30.0])


def test_pdu_metadata_noise_var_and_non_adaptive(amijscc):
    k = base.load_bundle(amijscc).k
    x = testing.random_images(4, seed=2)
    run = _Run(amijscc, quant_bits=0, adaptive=False)
    run.send(x)
    frames = run.close()
    assert [t["end"] for _, t in frames] == [k] * 4
    from semcom_core.symbols import parse_frame

    assert all(parse_frame(f)[1].q == 0 for f, _ in frames)

    run = _Run(amijscc, quant_bits=-1, adaptive=True, noise_var=1.0)
    meta = {"index": 0, "noise_var": 1e-3}
    testing.post(run.tx, "pdu", base.make_pdu(meta, x[0]))
    testing.post(run.tx, "pdu", base.make_pdu({"index": 1}, x[0]))
    assert testing.wait_for(lambda: run.tx.sent() == 2, 30.0)
    frames = run.close()
    assert frames[0][1]["tx_noise_var"] == pytest.approx(1e-3) and frames[1][1]["tx_noise_var"] == pytest.approx(1.0)
    assert frames[0][1]["end"] <= frames[1][1]["end"]


def test_bad_pdus_are_dropped_and_counted(amijscc):
    x = testing.random_images(2, seed=3)
    run = _Run(amijscc)
    bad_nan = x[0].copy()
    bad_nan[0, 0, 0] = np.nan
    for msg in (_pdu(x[0], 0), pmt.intern("junk"), _pdu(np.zeros(10, np.float32), 1), _pdu(bad_nan, 2), _pdu(x[1], 3)):
        testing.post(run.tx, "pdu", msg)
    assert testing.wait_for(lambda: run.tx.sent() + run.tx.dropped() == 5, 30.0)
    frames = run.close()
    assert run.tx.sent() == 2 and run.tx.dropped() == 3
    assert set(run.tx.drop_reasons()) == {"not an image PDU", "wrong image size", "non-finite pixel values"}
    assert [t["index"] for _, t in frames] == [0, 3]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
