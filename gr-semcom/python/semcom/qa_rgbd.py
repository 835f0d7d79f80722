#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The multi-modal system on separate devices in one flowgraph: source -> a transmitter, a channel and a
receiver per device -> server. The server's accuracy is the library's; when one device's frames are lost on
the channel, the server counts the loss and still classifies from the other device."""

import math
import sys
import time
from pathlib import Path

import pmt
import pytest
import torch
from gnuradio import gr
from gnuradio import pdu as gr_pdu

from gnuradio import semcom
from gnuradio.semcom import testing

N = 300
SNR_DB = 10.0


def _bundle():
    import semcom_core

    return str(Path(semcom_core.__file__).resolve().parents[1] / "bundles" / "rgbd-proposed-snr10")


class odd_frames_lost(gr.basic_block):
    """A lossy link for frames as PDUs: drops the frames of odd sample index."""

    def __init__(self):
        gr.basic_block.__init__(self, name="odd_frames_lost", in_sig=None, out_sig=None)
        self.message_port_register_in(pmt.intern("in"))
        self.message_port_register_out(pmt.intern("out"))
        self.set_msg_handler(pmt.intern("in"), self.handle)
        self.lost = 0

    def handle(self, msg):
        index = pmt.to_python(pmt.dict_ref(pmt.car(msg), pmt.intern("index"), pmt.from_long(0)))
        if index % 2:
            self.lost += 1
        else:
            self.message_port_pub(pmt.intern("out"), msg)


class slow_frames(gr.basic_block):
    """A slow link for frames as PDUs: forwards every frame, each ``delay_s`` after the one before, so its
    device falls further and further behind the other while it keeps sending."""

    def __init__(self, delay_s):
        gr.basic_block.__init__(self, name="slow_frames", in_sig=None, out_sig=None)
        self.message_port_register_in(pmt.intern("in"))
        self.message_port_register_out(pmt.intern("out"))
        self.set_msg_handler(pmt.intern("in"), self.handle)
        self.delay_s = delay_s

    def handle(self, msg):
        time.sleep(self.delay_s)
        self.message_port_pub(pmt.intern("out"), msg)


def _flowgraph(bundle, lose_depth=False, timeout_ms=300.0, slow_rgb_s=0.0):
    """Source -> per device a transmitter, an AWGN channel, a receiver -> server; ``lose_depth``: the odd
    samples' depth frames are lost before the channel; ``slow_rgb_s``: RGB frames go through a slow link."""
    links = {"depth": odd_frames_lost() if lose_depth else None,
             "rgb": slow_frames(slow_rgb_s) if slow_rgb_s else None}
    tb = gr.top_block()
    source = semcom.rgbd_source(bundle, "test", N)
    server = semcom.rgbd_server(bundle, timeout_ms)
    parts = {}
    for seed, modality in enumerate(("rgb", "depth")):
        tx = semcom.rgbd_device_tx(bundle, modality)
        chan = semcom.channel("awgn", SNR_DB, "perfect", 4, seed)
        rx = semcom.rgbd_device_rx(bundle, modality)
        tb.msg_connect(source, modality, tx, "pdu")
        link = links[modality]
        if link is not None:
            to_pdu = gr_pdu.tagged_stream_to_pdu(gr.types.complex_t, "packet_len")
            to_stream = gr_pdu.pdu_to_tagged_stream(gr.types.complex_t, "packet_len")
            tb.connect(tx, to_pdu)
            tb.msg_connect(to_pdu, "pdus", link, "in")
            tb.msg_connect(link, "out", to_stream, "pdus")
            tb.connect(to_stream, chan)
            parts[f"{modality}_link"] = (link, to_pdu, to_stream)   # every Python block referenced
        else:
            tb.connect(tx, chan)
        tb.connect(chan, rx)
        tb.msg_connect(rx, "pdu", server, "in")
        parts[modality] = (tx, rx)
        parts[f"{modality}_channel"] = chan          # every Python block referenced while the graph lives
    return tb, source, server, parts


def _library_accuracy(bundle, source):
    from semcom_core.bundles.multimodal import load_multimodal_bundle

    system, _ = load_multimodal_bundle(bundle)
    _, inputs, labels = source.samples()
    torch.manual_seed(0)
    with torch.no_grad():
        pred = system([torch.from_numpy(inputs[m]) for m in system.modalities], SNR_DB).argmax(1).numpy()
    return float((pred == labels).mean())


@pytest.mark.slow
def test_devices_and_server_in_one_flowgraph_match_the_library():
    bundle = _bundle()
    tb, source, server, parts = _flowgraph(bundle)
    assert testing.run_bounded(tb, lambda: server.classified() >= N, 120.0), server.summary()
    s = server.summary()
    assert s["classified"] == N and s["fallbacks"] == 0 and s["dropped"] == 0
    assert all(tx.dropped() == 0 and rx.dropped() == 0 for tx, rx in (parts["rgb"], parts["depth"]))
    library = _library_accuracy(bundle, source)
    assert abs(s["accuracy"] - library) < 3 * math.sqrt(library * (1 - library) / N) + 0.02, (s, library)


@pytest.mark.slow
def test_lost_device_frames_are_counted_and_the_other_device_still_classifies(capfd):
    bundle = _bundle()
    tb, source, server, parts = _flowgraph(bundle, lose_depth=True, timeout_ms=2000.0)
    assert testing.run_bounded(tb, lambda: server.classified() >= N, 120.0), server.summary()
    s = server.summary()
    lost = parts["depth_link"][0].lost
    assert lost == N // 2
    assert s["classified"] == N and s["fallbacks"] == lost and s["lost_frames"] == {"rgb": 0, "depth": lost}
    assert s["dropped"] == 0                                   # no frame came after its sample's decision
    # the samples with both devices are right as often as before; those from RGB alone far above chance (0.1)
    assert s["accuracy"] > 0.5, s
    err = capfd.readouterr().err
    assert f"semcom rgbd server: {N} samples" in err and f"depth {lost}" in err


@pytest.mark.slow
def test_a_device_behind_but_still_sending_is_waited_for():
    """RGB frames come 5 ms apart while depth's are all in at once: by the end RGB is over a second behind,
    far past the 200 ms wait, yet no sample is decided without its RGB frame and none comes late."""
    bundle = _bundle()
    tb, _source, server, parts = _flowgraph(bundle, timeout_ms=200.0, slow_rgb_s=0.005)
    assert testing.run_bounded(tb, lambda: server.classified() >= N, 120.0), server.summary()
    s = server.summary()
    assert s["classified"] == N and s["fallbacks"] == 0 and s["dropped"] == 0, s
    assert s["lost_frames"] == {"rgb": 0, "depth": 0}


@pytest.mark.slow
def test_frames_after_their_sample_was_decided_are_dropped_as_late():
    """With a timeout shorter than the links' latency, samples are decided from whatever arrived first;
    a frame arriving later is dropped as late and counted, and no sample is decided twice."""
    bundle = _bundle()
    tb, _source, server, parts = _flowgraph(bundle, timeout_ms=1.0)
    rgb_rx, depth_rx = parts["rgb"][1], parts["depth"][1]

    def accounted():   # every frame received was either used for its sample or dropped as late
        s = server.summary()
        used = 2 * N - sum(s["lost_frames"].values())
        return (rgb_rx.decoded() + depth_rx.decoded() == 2 * N and s["classified"] >= N
                and s["dropped"] == 2 * N - used)

    assert testing.run_bounded(tb, accounted, 120.0), server.summary()
    s = server.summary()
    assert s["classified"] == N and s["fallbacks"] <= sum(s["lost_frames"].values())


def test_bad_arguments_fail_in_the_constructor():
    bundle = _bundle()
    with pytest.raises(ValueError, match="no 'thermal' device"):
        semcom.rgbd_device_tx(bundle, "thermal")
    with pytest.raises(ValueError, match="no 'ir' device"):
        semcom.rgbd_device_rx(bundle, "ir")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
