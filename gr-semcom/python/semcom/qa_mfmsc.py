#!/usr/bin/env python3
#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA for the MFMSC blocks: every task through source, transmitter, channel, receiver and task metrics
sink scores what the library scores; broken instances and frames are dropped and counted."""

import os
import sys

import numpy as np
import pytest
from gnuradio import blocks, gr

try:
    from gnuradio import semcom
    from gnuradio.semcom import testing
    from gnuradio.semcom.base.pdu import make_pdu
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import semcom
    from semcom import testing
    from semcom.base.pdu import make_pdu

BUNDLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "bundles", "mfmsc-embedded")
if not os.path.isdir(BUNDLE):
    BUNDLE = "bundles/mfmsc-embedded"


def _chain(tasks: str, n: int, snr_db: float):
    tb = gr.top_block()
    src = semcom.mfmsc_source(BUNDLE, tasks, n)
    tx = semcom.mfmsc_tx(BUNDLE)
    ch = semcom.channel("awgn", snr_db, seed=1)
    rx = semcom.mfmsc_rx(BUNDLE)
    sink = semcom.task_metrics_sink(BUNDLE, "", "awgn", snr_db, src.num_instances())
    tb.msg_connect(src, "pdu", tx, "pdu")
    tb.msg_connect(src, "pdu", sink, "ref")
    tb.connect(tx, ch, rx)
    tb.msg_connect(rx, "pdu", sink, "rx")
    return tb, (src, tx, ch, rx, sink)


def test_every_task_through_the_blocks_scores_as_the_library_without_noise():
    from semcom_core.bundles.mfmsc import load_mfmsc_bundle
    from semcom_core.data.mfmsc.tasks import build_tasks
    from semcom_core.runs.mfmsc import evaluate_task

    n = 24
    tb, blocks_ = _chain("all", n, 120.0)
    src, tx, _, rx, sink = blocks_
    assert testing.run_bounded(tb, sink.done, 240.0), f"{sink.count()} of {src.num_instances()} instances"
    assert tx.dropped() == 0 and rx.dropped() == 0
    summary = sink.summary()
    assert summary["count"] == 8 * n and summary["problems"] == 0 and set(summary["tasks"]) == set(src.tasks())

    system, card, tokenizer = load_mfmsc_bundle(BUNDLE)
    _, test, _ = build_tasks(card["config"], splits=("test",), tokenizer=tokenizer)
    for name, data in test.items():
        library = evaluate_task(system, data.head(n), "awgn", 120.0)      # the instances the source sent
        got = summary["tasks"][name]
        metric = got["metric"]
        assert got["count"] == n
        assert got["value"] == pytest.approx(library[metric], abs=1e-3 if metric == "psnr" else 1e-9), name
        assert got["symbols_per_instance"] == pytest.approx(library["symbols_per_instance"]), name


def test_broken_instances_and_frames_are_dropped_and_counted():
    tb = gr.top_block()
    tx = semcom.mfmsc_tx(BUNDLE)
    rx = semcom.mfmsc_rx(BUNDLE)
    debug = blocks.message_debug()
    tb.connect(tx, rx)
    tb.msg_connect(rx, "pdu", debug, "store")
    src = semcom.mfmsc_source(BUNDLE, "text_cls,image_cls", 2)
    good = src.items()
    (meta, values), (image_meta, image_values) = good[0], good[1]
    bad_ids = values.copy()
    bad_ids[0] = 1e6                                          # not a token id
    tb.start()
    try:
        for msg in [make_pdu({**meta, "task": "no_such_task"}, values),
                    make_pdu(meta, values[:-1]),               # wrong size
                    make_pdu(image_meta, np.full_like(image_values, np.nan)),
                    make_pdu(meta, bad_ids),
                    make_pdu(meta, values), make_pdu(image_meta, image_values)]:
            testing.post(tx, "pdu", msg)
        assert testing.wait_for(lambda: debug.num_messages() >= 2, 60.0)
    finally:
        tb.stop()
        tb.wait()
    reasons = tx.drop_reasons()
    assert reasons == {"unknown task": 1, "wrong instance size": 1, "non-finite values": 1, "encoder failure": 1}
    out = testing.pdus(debug)
    assert sorted(m["task"] for m, _ in out) == ["image_cls", "text_cls"] and rx.dropped() == 0
    assert all(isinstance(m["pred"], int) for m, _ in out)


def test_frames_that_contradict_their_mask_or_task_are_dropped_and_header_numbers_give_both():
    src = semcom.mfmsc_source(BUNDLE, "vqa", 1)
    tx = semcom.mfmsc_tx(BUNDLE)
    (meta, values), = src.items()
    from semcom_core.link.multitask import unpack_instances

    batch = unpack_instances([values], [meta], ("image", "text"), tx.geometry)
    frame = tx.link.transmit("vqa", batch)[0]
    mask = frame.mask.astype(np.uint8)
    own, other = tx.link.air_id("vqa"), tx.link.base_id - 1 or 65535     # the number of no task of this bundle
    frames = [frame.symbols, frame.symbols[:-1], frame.symbols, frame.symbols * np.nan, frame.symbols, frame.symbols,
              frame.symbols, frame.symbols]
    tags = [{"task": "vqa", "mask": mask, "index": 0}, {"task": "vqa", "mask": mask, "index": 1},
            {"task": "nope", "mask": mask, "index": 2}, {"task": "vqa", "mask": mask, "index": 3},
            {"task": "vqa", "index": 4}, {"task": "vqa", "mask": mask, "index": 5},
            {"bundle_id": own, "index": 6}, {"bundle_id": other, "index": 7}]     # as an OFDM receiver tags them
    tb = gr.top_block()
    source = testing.frames_source(frames, tags)
    rx = semcom.mfmsc_rx(BUNDLE)
    debug = blocks.message_debug()
    tb.connect(source, rx)
    tb.msg_connect(rx, "pdu", debug, "store")
    assert testing.run_bounded(tb, lambda: debug.num_messages() >= 3, 60.0)
    out = testing.pdus(debug)
    assert [m["index"] for m, _ in out] == [0, 5, 6]
    assert out[2][0]["pred"] == out[0][0]["pred"] and out[2][0]["task"] == "vqa"     # task and mask from the header
    assert rx.drop_reasons() == {"frame length mismatch": 1, "unknown task": 2, "non-finite samples": 1,
                                 "missing token mask": 1}


def test_a_source_with_an_unknown_task_says_which_tasks_there_are():
    with pytest.raises(ValueError, match="serves image_cls"):
        semcom.mfmsc_source(BUNDLE, "image_cls,weather", 2)


def test_the_task_metrics_sink_scores_what_it_can_and_counts_the_rest(tmp_path):
    tb = gr.top_block()
    sink = semcom.task_metrics_sink("", str(tmp_path / "r.jsonl"), "awgn", 10.0, 3)
    idle = testing.idle_message_source()   # a connection makes the top block run the message-only sink
    tb.msg_connect(idle, "out", sink, "rx")
    tb.start()
    try:
        image = np.linspace(0, 1, 784, dtype=np.float32)
        for port, meta, values in [
                ("ref", {"task": "vqa", "kind": "classify", "index": 0, "reference": 4}, np.zeros(0, np.float32)),
                ("ref", {"task": "vqa", "kind": "classify", "index": 1, "reference": 2}, np.zeros(0, np.float32)),
                ("ref", {"task": "image_recon", "kind": "image_recon", "index": 0}, image),
                ("rx", {"task": "vqa", "index": 0, "pred": 4, "symbols": 16}, np.zeros(0, np.float32)),
                ("rx", {"task": "vqa", "index": 1, "symbols": 16}, np.zeros(0, np.float32)),       # no prediction
                ("rx", {"task": "image_recon", "index": 0}, np.full(784, np.nan, np.float32)),
                ("rx", {"index": 9}, np.zeros(1, np.float32))]:                                  # no task
            testing.post(sink, port, make_pdu(meta, values))
        assert testing.wait_for(sink.done, 10.0)
    finally:
        tb.stop()
        tb.wait()
    s = sink.summary()
    assert s["count"] == 3 and s["problems"] == 3
    assert s["tasks"] == {"vqa": {"metric": "accuracy", "value": 1.0, "count": 1, "symbols_per_instance": 16.0}}
    (record,) = [line for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert '"task": "vqa"' in record and '"accuracy": 1.0' in record
