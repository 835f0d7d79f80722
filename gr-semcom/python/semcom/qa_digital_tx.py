#!/usr/bin/env python3
#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA for semcom.digital_tx: the library's frames, infeasible images on "lost", dropped bad PDUs."""

import os
import sys

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

try:
    from gnuradio import semcom
    from gnuradio.semcom import base, testing
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import semcom
    from semcom import base, testing

# 115 channel uses of 64-QAM: one 5G NR codeword of 690 bits, 517 information bits, a 501-bit
# budget: about half of the Fashion-MNIST images fit at BPG's lowest quality, the rest are infeasible
CHANNEL_USES = 115


def _fashion_mnist(n, start=0):
    from semcom_core.data import DatasetError, load_dataset

    try:
        ds = load_dataset("fashion-mnist", split="test")
    except DatasetError as err:
        pytest.skip(f"Fashion-MNIST not available: {err}")
    images, labels = ds.batch(range(start, start + n))
    return images.numpy(), labels.numpy()


def _pdus(images, labels, first_index=0):
    return [base.make_pdu({"index": first_index + i, "label": int(labels[i]), "shape": list(images[i].shape)},
                            images[i]) for i in range(len(images))]


def _run_tx(tx, pdus, expected_frames, expected_lost=0, timeout=60.0):
    tb = gr.top_block()
    sink = blocks.vector_sink_c()
    lost = blocks.message_debug()
    tb.connect(tx, sink)
    tb.msg_connect(tx, "lost", lost, "store")
    tb.start()
    try:
        for pdu in pdus:
            testing.post(tx, "pdu", pdu)
        ok = testing.wait_for(lambda: tx.sent() >= expected_frames and lost.num_messages() >= expected_lost
                              and tx.received() >= len(pdus) and tx.backlog() == 0, timeout)
        testing.wait_for(lambda: len(sink.data()) >= expected_frames * max(tx.frame_len, 1), 5.0)
    finally:
        tb.stop()
        tb.wait()
    assert ok, f"transmitter sent {tx.sent()} of {expected_frames} frames, {lost.num_messages()} lost notices"
    return np.asarray(sink.data(), dtype=np.complex64), testing.tags_by_key(sink), testing.pdus(lost)


def test_frames_are_the_librarys_and_infeasible_images_are_reported():
    from semcom_core.baselines.link import CodeChoice, DigitalLink
    from semcom_core.baselines.source import make_source_codec

    images, labels = _fashion_mnist(10)
    link = DigitalLink(make_source_codec("bpg"), CodeChoice("nr", "3/4", 64))
    plan = link.plan(CHANNEL_USES)
    chosen = link.choose([link.codec.ladder(im) for im in images], plan)
    feasible = [i for i, e in enumerate(chosen) if e is not None]
    infeasible = [i for i, e in enumerate(chosen) if e is None]
    assert feasible and infeasible, "the test wants both kinds among its images"
    expected = link.transmit([chosen[i] for i in feasible], plan).symbols.numpy()

    tx = semcom.digital_tx("bpg", "nr", "3/4", 64, 576, CHANNEL_USES)
    assert tx.frame_len == plan.symbols and tx.budget_bits() == plan.budget_bits
    y, tags, lost = _run_tx(tx, _pdus(images, labels, 100), len(feasible), len(infeasible))
    L = plan.symbols
    assert y.size == len(feasible) * L
    np.testing.assert_allclose(y.reshape(-1, L), expected, atol=1e-6)
    assert [o for o, _ in tags["packet_len"]] == [j * L for j in range(len(feasible))]
    assert all(v == L for _, v in tags["packet_len"])
    assert [v for _, v in tags["index"]] == [100 + i for i in feasible]
    assert [v for _, v in tags["label"]] == [int(labels[i]) for i in feasible]
    assert [v for _, v in tags["bits"]] == [chosen[i].bits for i in feasible]
    assert [v for _, v in tags["quality"]] == [chosen[i].quality for i in feasible]
    # infeasible images: no frame, but a notice on "lost" with the PDU's metadata
    assert sorted(m["index"] for m, _ in lost) == [100 + i for i in infeasible]
    assert all(m["lost"] is True and m["lost_reason"] == "infeasible" and p.size == 0 for m, p in lost)
    assert {m["index"]: m["label"] for m, _ in lost} == {100 + i: int(labels[i]) for i in infeasible}
    assert tx.infeasible() == len(infeasible) and tx.lost_reasons() == {"infeasible": len(infeasible)}
    assert tx.dropped() == 0 and tx.sent() == len(feasible)


def test_no_codeword_fits_every_image_is_lost(tmp_path):
    images, labels = _fashion_mnist(3)
    # 65 channel uses (the bundle's k) x 6 bits = 390 coded bits: no 576-bit 802.16e codeword fits
    bundle = testing.make_bundle(tmp_path / "b")
    tx = semcom.digital_tx("bpg", "wimax", "1/2", 64, 576, 0, bundle)
    assert tx.channel_uses == base.load_bundle(bundle).k and not tx.plan.feasible and tx.frame_len == 0
    y, _, lost = _run_tx(tx, _pdus(images, labels), 0, 3)
    assert y.size == 0 and tx.sent() == 0
    assert [m["index"] for m, _ in lost] == [0, 1, 2]
    assert tx.infeasible() == 3


def test_bad_pdus_are_dropped_and_counted():
    images, labels = _fashion_mnist(2)   # 200 channel uses: a budget of 884 bits, every image fits
    nan_image = images[0].copy()
    nan_image[0, 3, 3] = np.nan
    pdus = [
        base.make_pdu({"index": 0, "shape": [1, 28, 28]}, images[0]),
        base.make_pdu({"index": 1, "shape": [1, 28, 28]}, images[1].reshape(-1)[:700]),   # wrong size
        base.make_pdu({"index": 2, "shape": [1, 28, 28]}, nan_image),                      # NaN
        base.make_pdu({"index": 3}, images[0]),                                            # no shape, no bundle
        pmt.intern("not a pdu"),                                                             # not a PDU
        base.make_pdu({"index": 4, "shape": [1, 28, 28]}, images[1]),
    ]
    tx = semcom.digital_tx("bpg", "nr", "3/4", 64, 576, 200)
    y, tags, lost = _run_tx(tx, pdus, 2)
    assert tx.dropped() == 4 and tx.sent() == 2 and not lost
    assert set(tx.drop_reasons()) == {"wrong image size", "non-finite pixel values", "no image shape",
                                      "not an image PDU"}
    assert [v for _, v in tags["index"]] == [0, 4]
    assert y.size == 2 * tx.frame_len


@pytest.mark.parametrize("kwargs", [{"family": "turbo"}, {"qam": 8}, {"rate": "7/3"}, {"codec": "gif"},
                                    {"channel_uses": 0}])
def test_bad_arguments_fail_at_construction(kwargs):
    args = {"codec": "bpg", "family": "nr", "rate": "3/4", "qam": 64, "n": 576, "channel_uses": 100, **kwargs}
    with pytest.raises(ValueError):
        semcom.digital_tx(**args)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
