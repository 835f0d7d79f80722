#!/usr/bin/env python3
#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA for semcom.metrics_sink: matching by index, PSNR/SSIM/accuracy, result records."""

import json
import os
import sys

import numpy as np
import pytest
import torch
from gnuradio import gr

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


def _pairs(n, seed=0):
    rng = np.random.default_rng(seed)
    ref = rng.random((n, 1, 28, 28), dtype=np.float32)
    noisy = np.clip(ref + rng.normal(0, 0.05 + 0.01 * np.arange(n)[:, None, None, None], ref.shape), 0, 1)
    return ref, noisy.astype(np.float32)


def test_psnr_ssim_accuracy_match_semcom_core(bundle_dir, tmp_path):
    from semcom_core.metrics import ms_ssim, psnr, ssim

    n = 70
    ref, rx = _pairs(n)
    labels = np.arange(n) % 10
    preds = labels.copy()
    preds[::4] = (preds[::4] + 1) % 10          # every 4th prediction wrong
    out_path = tmp_path / "records.jsonl"
    sink = semcom.metrics_sink(bundle_dir, str(out_path), "awgn", 7.0, n)
    tb = gr.top_block()
    idle = testing.idle_message_source()   # a connection makes the top block run the message-only sink
    tb.msg_connect(idle, "out", sink, "rx")
    tb.start()
    try:
        for i in range(n):   # received PDUs arrive before their references for the first half
            rx_pdu = base.make_pdu({"index": i, "pred": int(preds[i]), "seq": i}, rx[i])
            ref_pdu = base.make_pdu({"index": i, "label": int(labels[i]), "shape": [1, 28, 28]}, ref[i])
            first, second = (("rx", rx_pdu), ("ref", ref_pdu)) if i < n // 2 else (("ref", ref_pdu), ("rx", rx_pdu))
            testing.post(sink, *first)
            testing.post(sink, *second)
        assert testing.wait_for(sink.done, 30.0)
    finally:
        tb.stop()
        tb.wait()
    s = sink.summary()
    x, y = torch.from_numpy(ref), torch.from_numpy(rx)
    assert s["count"] == n and s["unmatched_ref"] == 0 and s["unmatched_rx"] == 0
    assert s["psnr"] == pytest.approx(psnr(x, y).double().mean().item(), abs=1e-4)
    assert s["ssim"] == pytest.approx(ssim(x, y).double().mean().item(), abs=1e-4)
    assert s["ms_ssim"] == pytest.approx(ms_ssim(x, y).double().mean().item(), abs=1e-4)
    assert s["accuracy"] == pytest.approx(np.mean(preds == labels))
    np.testing.assert_allclose(np.sort(sink.psnr_values()), np.sort(psnr(x, y).numpy()), atol=1e-4)
    records = [json.loads(line) for line in out_path.read_text().splitlines()]
    assert len(records) == 1
    rec = records[0]
    assert rec["source"] == "flowgraph" and rec["samples"] == n and rec["snr_db"] == 7.0
    assert rec["method"] == "deepjscc" and rec["dataset"] == "fashion-mnist" and rec["channel"] == "awgn"
    assert rec["psnr"] == pytest.approx(s["psnr"]) and rec["ms_ssim"] == pytest.approx(s["ms_ssim"])
    assert rec["ratio"] == pytest.approx(base.load_bundle(bundle_dir).card["ratio"])


def test_partial_run_writes_record_at_stop_and_snr_from_tags(tmp_path, capfd):
    ref, rx = _pairs(5, seed=1)
    out_path = tmp_path / "r.jsonl"
    sink = semcom.metrics_sink("", str(out_path), "rayleigh", float("nan"), 10, method="m", dataset="d")
    tb = gr.top_block()
    idle = testing.idle_message_source()
    tb.msg_connect(idle, "out", sink, "rx")
    tb.start()
    for i in range(5):
        testing.post(sink, "ref", base.make_pdu({"index": i, "label": 1, "shape": [1, 28, 28]}, ref[i]))
        testing.post(sink, "rx", base.make_pdu({"index": i, "pred": 1, "snr_db": 4.0}, rx[i]))
    testing.post(sink, "rx", base.make_pdu({"index": 99, "pred": 1}, rx[0]))   # never matched
    assert testing.wait_for(lambda: sink.count() == 5, 10.0)
    assert not sink.done()
    tb.stop()
    tb.wait()
    rec = json.loads(out_path.read_text())
    assert rec["samples"] == 5 and rec["snr_db"] == 4.0 and rec["method"] == "m" and rec["accuracy"] == 1.0
    assert sink.summary()["unmatched_rx"] == 1
    # the flowgraph says what it measured when it stops
    line = capfd.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("semcom metrics: 5 images, PSNR ") and "accuracy 100.0 %" in line
    assert line.endswith(f"record appended to {out_path}")


def test_a_nan_image_and_an_unreadable_reference_are_counted_not_poisoning_the_record(bundle_dir, tmp_path):
    import pmt
    from semcom_core.metrics import psnr

    n = 20
    ref, rx = _pairs(n, seed=2)
    bad_rx = rx.copy()
    bad_rx[3, 0, 5, 5] = np.nan                                   # one received image with NaN
    out_path = tmp_path / "r.jsonl"
    sink = semcom.metrics_sink(bundle_dir, str(out_path), "awgn", 5.0, n)
    tb = gr.top_block()
    idle = testing.idle_message_source()
    tb.msg_connect(idle, "out", sink, "rx")
    tb.start()
    try:
        for i in range(n):
            if i == 7:                                            # a reference with no index: unreadable
                testing.post(sink, "ref", pmt.cons(pmt.make_dict(), pmt.init_f32vector(3, [0.0, 1.0, 2.0])))
            else:
                testing.post(sink, "ref", base.make_pdu({"index": i, "shape": [1, 28, 28]}, ref[i]))
            testing.post(sink, "rx", base.make_pdu({"index": i}, bad_rx[i]))
        assert testing.wait_for(sink.done, 30.0), "an unreadable reference must not keep the run from ending"
    finally:
        tb.stop()
        tb.wait()
    valid = [i for i in range(n) if i not in (3, 7)]
    expected = psnr(torch.from_numpy(ref[valid]), torch.from_numpy(rx[valid])).double().mean().item()
    rec = json.loads(out_path.read_text())
    assert rec["invalid"] == 2 and rec["samples"] == n - 2
    assert rec["psnr"] == pytest.approx(expected, abs=1e-4) and np.isfinite(rec["psnr"])


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
