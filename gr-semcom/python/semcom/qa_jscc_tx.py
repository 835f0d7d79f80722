#!/usr/bin/env python3
#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA for semcom.jscc_tx: k unit-power symbols per image, frame tags, dropped bad PDUs."""

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
def bundle_dir(tmp_path_factory):
    return testing.make_bundle(tmp_path_factory.mktemp("bundle") / "b")


@pytest.fixture(scope="module")
def bundle_q4(tmp_path_factory):
    return testing.make_bundle(tmp_path_factory.mktemp("bundle") / "bq", q=4)


def _run_tx(bundle, pdus, expected_frames, quant_bits=0, max_batch=64, timeout=30.0):
    tb = gr.top_block()
    tx = semcom.jscc_tx(bundle, quant_bits, max_batch, precision="fp32")   # compared with the library in fp32
    sink = blocks.vector_sink_c()
    tb.connect(tx, sink)
    tb.start()
    try:
        for pdu in pdus:
            testing.post(tx, "pdu", pdu)
        ok = testing.wait_for(lambda: tx.sent() >= expected_frames
                              and tx.received() >= len(pdus) and tx.backlog() == 0, timeout)
        testing.wait_for(lambda: len(sink.data()) >= expected_frames * tx.k, 5.0)
    finally:
        tb.stop()
        tb.wait()
    assert ok, f"transmitter sent {tx.sent()} of {expected_frames} frames"
    return tx, np.asarray(sink.data(), dtype=np.complex64), testing.tags_by_key(sink)


def test_k_symbols_per_image_with_tags_and_unit_power(bundle_dir):
    n = 150   # more than one batch of 64
    x = testing.random_images(n)
    pdus = [base.make_pdu({"index": 100 + i, "label": i % 10, "shape": [1, 28, 28]}, x[i]) for i in range(n)]
    tx, y, tags = _run_tx(bundle_dir, pdus, n)
    k = tx.k
    assert y.size == n * k
    assert [off for off, _ in tags["packet_len"]] == [i * k for i in range(n)]
    assert all(v == k for _, v in tags["packet_len"])
    assert [v for _, v in tags["index"]] == [100 + i for i in range(n)]
    assert [v for _, v in tags["label"]] == [i % 10 for i in range(n)]
    assert "z_min" not in tags and tx.dropped() == 0
    frames = y.reshape(n, k)
    power = np.mean(np.abs(frames) ** 2, axis=1)
    np.testing.assert_allclose(power, 1.0, rtol=1e-4)

    # the same symbols as calling the bundle directly
    b = base.load_bundle(bundle_dir)
    s, _ = b.codec.to_symbols(b.encode(torch.from_numpy(x)))
    np.testing.assert_allclose(frames, s.numpy(), atol=1e-4)


def test_quantised_frames_carry_side_information(bundle_q4):
    n = 20
    x = testing.random_images(n, seed=1)
    pdus = [base.make_pdu({"index": i}, x[i]) for i in range(n)]
    tx, y, tags = _run_tx(bundle_q4, pdus, n, quant_bits=4)
    k = tx.k
    assert len(tags["z_min"]) == n and len(tags["z_max"]) == n
    assert [off for off, _ in tags["z_min"]] == [i * k for i in range(n)]
    assert "label" not in tags   # the metadata had none
    assert all(lo < hi for (_, lo), (_, hi) in zip(tags["z_min"], tags["z_max"]))
    # 256-QAM points: 16 distinct levels per real dimension
    assert len(np.unique(np.round(y.real, 5))) <= 16 and len(np.unique(np.round(y.imag, 5))) <= 16
    # the same points and side information as the bundle's codec called directly (its calibrated power)
    b = base.load_bundle(bundle_q4)
    s, side = b.link(4).codec.to_symbols(b.encode(torch.from_numpy(x)))
    np.testing.assert_allclose(y.reshape(n, k), s.numpy(), atol=1e-5)
    np.testing.assert_allclose([v for _, v in tags["z_min"]], side.z_min.numpy(), rtol=1e-6)
    np.testing.assert_allclose([v for _, v in tags["z_max"]], side.z_max.numpy(), rtol=1e-6)
    assert [v for _, v in tags["q"]] == [4] * len(side) and "end" not in tags   # all k sent: no end tag


def test_bad_pdus_are_dropped_and_counted(bundle_dir):
    x = testing.random_images(4, seed=2)
    nan_image = x[2].copy()
    nan_image[0, 3, 3] = np.nan
    pdus = [
        base.make_pdu({"index": 0}, x[0]),
        base.make_pdu({"index": 1}, x[1].reshape(-1)[:700]),      # wrong size
        base.make_pdu({"index": 2}, nan_image),                     # NaN
        pmt.intern("not a pdu"),                                      # not a PDU
        base.make_pdu({"index": 3}, x[3]),
    ]
    tx, y, tags = _run_tx(bundle_dir, pdus, 2)
    assert tx.dropped() == 3
    assert tx.sent() == 2
    assert [v for _, v in tags["index"]] == [0, 3]
    assert y.size == 2 * tx.k


def test_bad_bundle_is_a_clear_error(tmp_path):
    from semcom_core.bundles import BundleError

    with pytest.raises(BundleError):
        semcom.jscc_tx(str(tmp_path / "missing"))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
