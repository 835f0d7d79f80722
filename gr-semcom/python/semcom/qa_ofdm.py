#!/usr/bin/env python3
#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA for the OFDM link: ofdm_tx -> GNU Radio channel model -> ofdm_rx, and the semantic link over it."""

import os
import sys

import numpy as np
import pytest

try:
    from gnuradio import semcom
    from gnuradio.semcom import running
    from gnuradio.semcom.phy.impairments import Impairments
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import semcom
    from semcom import running
    from semcom.phy.impairments import Impairments

LENGTHS = (65, 10, 130, 1, 48, 49)


def _frames(seed=0, lengths=LENGTHS):
    rng = np.random.default_rng(seed)
    frames = [((rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)).astype(np.complex64)
              for n in lengths]
    tags = [{"index": 100 + i, "q": 8, "end": n, "z_min": -1.5 - i, "z_max": 2.25 + i, "bundle_id": 4242}
            for i, n in enumerate(lengths)]
    return frames, tags


def _mse_db(a, b):
    return 10 * np.log10(np.mean(np.abs(a - b) ** 2) + 1e-30)


def test_noiseless_link_returns_the_symbols_and_the_header_fields():
    frames, tags = _frames()
    received, rx = running.run_frames(frames, tags)
    assert rx.header_failures() == 0 and len(received) == len(frames)
    for sent, meta, (got, t) in zip(frames, tags, received):
        assert got.shape == sent.shape
        # No noise: what is left is the synchroniser's error. Most frames come back to -136 dB; now and
        # then one is at -26 to -40 dB, depending on how the scheduler cut the stream (cause not found).
        # The frame's own SNR estimate must then say so.
        error_db = _mse_db(got, sent)
        assert error_db < -20, "noiseless payload must come back almost exactly"
        assert t["snr_db"] > 100 or abs(t["snr_db"] + error_db) < 3, (t["snr_db"], error_db)
        assert t["index"] == meta["index"] and t["bundle_id"] == 4242 and t["q"] == 8 and t["end"] == meta["end"]
        assert t["z_min"] == pytest.approx(meta["z_min"]) and t["z_max"] == pytest.approx(meta["z_max"])


def test_analog_frames_carry_no_quantiser_range():
    frames, tags = _frames(lengths=(20,))
    tags[0].update(q=0)
    received, _ = running.run_frames(frames, tags)
    ((_, t),) = received
    assert t["q"] == 0 and "z_min" not in t and "z_max" not in t


@pytest.mark.parametrize("snr_db", [11.0, 20.0])
def test_snr_is_estimated_per_frame_and_matches_the_payload_error(snr_db):
    frames, tags = _frames(seed=1, lengths=(200,) * 6)
    received, rx = running.run_frames(frames, tags, Impairments(snr_db=snr_db, seed=5))
    assert len(received) == len(frames)
    estimates = np.array([t["snr_db"] for _, t in received])
    assert np.all(np.abs(estimates - snr_db) < 1.5), estimates
    # the estimate describes the symbols actually delivered (channel estimation loss included)
    actual = -np.mean([_mse_db(g, s) for s, (g, _) in zip(frames, received)])
    assert abs(np.mean(estimates) - actual) < 1.5 and actual > snr_db - 1.5
    assert np.allclose([t["noise_var"] for _, t in received], 10 ** (-estimates / 10), rtol=1e-6)


def test_frames_survive_carrier_timing_and_multipath_impairments():
    frames, tags = _frames(seed=2)
    air = Impairments(snr_db=25.0, cfo=0.05, epsilon=1.00002, taps=(1.0, 0.35j, -0.15), seed=9)
    received, rx = running.run_frames(frames, tags, air, lead_in=333)
    assert rx.header_failures() == 0 and [t["index"] for _, t in received] == [t["index"] for t in tags]
    errors = np.concatenate([got - sent for sent, (got, _) in zip(frames, received)])
    assert 10 * np.log10(np.mean(np.abs(errors) ** 2)) < -18, "5 % CFO, clock offset and three taps cost a few dB"


def test_a_sionna_tdl_channel_at_the_sample_level():
    frames, tags = _frames(seed=3)
    air = Impairments(snr_db=30.0, tdl={"model": "C", "delay_spread_ns": 300.0, "sample_rate": 1e6, "block_len": 0,
                                        "seed": 1})
    received, rx = running.run_frames(frames, tags, air)
    assert len(received) == len(frames)
    for sent, (got, _) in zip(frames, received):
        assert _mse_db(got, sent) < -15


def test_corrupted_headers_are_dropped_and_counted_exactly():
    """Bursts of one image each (the indices jump, so the transmitter cannot group them); four headers
    replaced by noise are four counted header failures, the other bursts arrive."""
    frames, tags = _frames(seed=4, lengths=(65,) * 10)
    for i, t in enumerate(tags):
        t["index"] = 100 + 2 * i
    damaged = {1, 4, 5, 8}
    lay = semcom.ofdm_tx().layout
    burst = lay.shape(1, 65, 8).samples + 32                     # the transmitter's default gap
    rng = np.random.default_rng(0)

    def damage(samples):
        samples = samples.copy()
        for i in damaged:   # replace the header OFDM symbols (after the preamble) by noise
            start = i * burst + lay.preamble_len
            stop = start + lay.header_symbols * lay.symbol_len
            power = np.mean(np.abs(samples[start:stop]) ** 2)
            samples[start:stop] = np.sqrt(power / 2) * (rng.standard_normal(stop - start)
                                                        + 1j * rng.standard_normal(stop - start))
        return samples

    received, rx = running.run_frames(frames, tags, samples_hook=damage)
    assert rx.header_failure_reasons() == {"header CRC failure": len(damaged)}
    assert sorted(t["index"] for _, t in received) == [100 + 2 * i for i in range(10) if i not in damaged]
    assert rx.dropped() == 0


def test_non_finite_samples_are_zeroed_and_counted_and_later_frames_decode():
    frames, tags = _frames(seed=5, lengths=(65,) * 4)

    def poison(samples):
        samples = samples.copy()
        samples[500:520] = np.nan           # inside the first burst
        return samples

    received, rx = running.run_frames(frames, tags, samples_hook=poison)
    assert rx.bad_samples() == 20
    assert [t["index"] for _, t in received][-3:] == [101, 102, 103]


def test_noise_alone_produces_no_frames():
    """A receiver listening to noise only: nothing decoded, nothing raised."""
    from gnuradio import blocks, gr

    rng = np.random.default_rng(1)
    noise = ((rng.standard_normal(50_000) + 1j * rng.standard_normal(50_000)) / np.sqrt(2)).astype(np.complex64)
    rx = semcom.ofdm_rx()
    sink = blocks.vector_sink_c()
    tb = gr.top_block()
    tb.connect(blocks.vector_source_c(noise.tolist(), False), rx, sink)
    tb.run()
    assert rx.frames() == 0 and len(sink.data()) == 0


def test_layout_arguments_are_checked():
    with pytest.raises(ValueError, match="fft_len"):
        semcom.ofdm_tx(fft_len=48)
    with pytest.raises(ValueError, match="cp_len"):
        semcom.ofdm_rx(cp_len=0)
    with pytest.raises(ValueError, match="amplitude"):
        semcom.ofdm_tx(amplitude=0)


def _symbol_level(bundle, snr, n):
    from semcom_core.bundles import load_bundle
    from semcom_core.bundles.evaluate import evaluate_bundle

    return evaluate_bundle(load_bundle(bundle), "awgn", [snr], samples=n, progress=False)[0]


SHIPPED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "bundles", "a-mijscc-fmnist-8bit")


@pytest.fixture(scope="module")
def shipped():
    from gnuradio.semcom import base

    path = base.resolve_bundle_path("bundles/a-mijscc-fmnist-8bit")
    if not os.path.isdir(path):
        path = SHIPPED
    if not os.path.isdir(path):
        pytest.skip("the shipped A-MIJSCC bundle is not in this checkout")
    return path


def test_semantic_link_over_ofdm_matches_the_symbol_level_simulation(shipped):
    n, snr = 48, 30.0
    r = running.run_image_link(shipped, n, Impairments(snr_db=snr, cfo=0.02, seed=2), timeout_s=120)
    ref = _symbol_level(shipped, snr, n)
    assert r["complete"] and r["count"] == n and r["frames_lost"] == 0
    assert abs(r["psnr"] - ref["psnr"]) < 0.5, (r["psnr"], ref["psnr"])
    assert abs(r["accuracy"] - ref["accuracy"]) <= 0.1
    assert abs(r["snr_est_db"] - snr) < 1.5


def test_frames_of_another_bundle_are_dropped_as_bundle_mismatch(shipped, tmp_path):
    """A transmitter with one bundle, a receiver with another of the same shape: every frame is
    counted as a bundle mismatch, none decoded."""
    from gnuradio import blocks, gr
    from semcom_core.bundles import make_untrained_bundle

    other = str(make_untrained_bundle(tmp_path / "other", q=8, method="a-mijscc"))
    src = semcom.image_source(shipped, "test", 6)
    tx = semcom.mijscc_tx(shipped, -1, True, 0.01, 64, "packet_len", 1, False)
    otx, orx = semcom.ofdm_tx(), semcom.ofdm_rx()
    rx = semcom.mijscc_rx(other, -1, 64, "packet_len", 1, False)
    tb = gr.top_block()
    tb.msg_connect(src, "pdu", tx, "pdu")
    tb.connect(tx, otx, orx, rx)
    debug = blocks.message_debug()
    tb.msg_connect(rx, "pdu", debug, "store")
    from gnuradio.semcom import testing

    testing.run_bounded(tb, lambda: rx.dropped() >= 6, timeout=60)
    assert rx.drop_reasons() == {"bundle mismatch": 6} and debug.num_messages() == 0


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
