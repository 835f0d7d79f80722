#!/usr/bin/env python3
#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA for semcom.digital_rx: the library's images from clean frames, every broken frame a lost image."""

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

CHANNEL_USES = 200   # 1200 coded bits: one NR codeword, an 884-bit budget; every Fashion-MNIST image fits


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    return testing.make_bundle(tmp_path_factory.mktemp("bundle") / "b")


@pytest.fixture(scope="module")
def library():
    """The library's link, plan, test images, their chosen encodings, frames and decoded images."""
    from semcom_core.baselines.link import CodeChoice, DigitalLink
    from semcom_core.baselines.source import make_source_codec
    from semcom_core.data import DatasetError, load_dataset

    try:
        ds = load_dataset("fashion-mnist", split="test")
    except DatasetError as err:
        pytest.skip(f"Fashion-MNIST not available: {err}")
    images, labels = ds.batch(range(6))
    link = DigitalLink(make_source_codec("bpg"), CodeChoice("nr", "3/4", 64))
    plan = link.plan(CHANNEL_USES)
    chosen = link.choose([link.codec.ladder(im) for im in images.numpy()], plan)
    assert all(e is not None for e in chosen)
    frames = link.transmit(chosen, plan).symbols.numpy()
    decoded = np.stack([link.codec.decode(e.payload, e.meta) for e in chosen]).astype(np.float32)
    return {"link": link, "plan": plan, "labels": labels.numpy(), "chosen": chosen, "frames": frames,
            "decoded": np.clip(decoded, 0, 1)}


def _rx(bundle):
    return semcom.digital_rx("bpg", "nr", "3/4", 64, 576, CHANNEL_USES, bundle)


def _run_rx(rx, src, expected, lost_notices=(), timeout=60.0):
    tb = gr.top_block()
    debug = blocks.message_debug()
    tb.connect(src, rx)
    tb.msg_connect(rx, "pdu", debug, "store")
    tb.start()
    try:
        for notice in lost_notices:
            testing.post(rx, "lost", notice)
        ok = testing.wait_for(lambda: debug.num_messages() >= expected, timeout)
    finally:
        tb.stop()
        tb.wait()
    assert ok, f"receiver published {debug.num_messages()} of {expected} PDUs"
    return testing.pdus(debug)


def _classify(bundle, images):
    with torch.no_grad():
        return base.load_bundle(bundle).classify(torch.from_numpy(np.asarray(images))).argmax(1).numpy()


def _mean_image():
    from semcom_core.baselines.images import lost_image

    return lost_image("fashion-mnist").numpy()


def test_clean_frames_give_the_librarys_images_and_the_bundles_decisions(bundle_dir, library):
    n = len(library["frames"])
    tags = [{"index": 10 + i, "label": int(library["labels"][i]), "snr_db": 30.0} for i in range(n)]
    rx = _rx(bundle_dir)
    out = _run_rx(rx, testing.frames_source(list(library["frames"]), tags), n)
    assert [m["index"] for m, _ in out] == [10 + i for i in range(n)]
    assert [m["seq"] for m, _ in out] == list(range(n))
    assert all(m["lost"] is False and m["snr_db"] == 30.0 for m, _ in out)
    assert all(m["ratio"] == pytest.approx(CHANNEL_USES / 784) for m, _ in out)
    got = np.stack([p for _, p in out]).reshape(library["decoded"].shape)
    np.testing.assert_allclose(got, library["decoded"], atol=1e-6)
    assert [m["pred"] for m, _ in out] == _classify(bundle_dir, library["decoded"]).tolist()
    assert rx.delivered() == n and rx.lost() == 0 and rx.dropped() == 0


def test_broken_frames_and_lost_notices_become_lost_images(bundle_dir, library):
    from semcom_core.baselines.source import Encoded

    link, plan, frames = library["link"], library["plan"], library["frames"]
    L = plan.symbols
    rng = np.random.default_rng(0)
    garbage = Encoded(bytes(rng.integers(0, 256, 40, dtype=np.uint8)), 320, 0.0, library["chosen"][0].meta)
    undecodable = link.transmit([garbage], plan).symbols.numpy()[0]   # passes LDPC, BPG rejects the bytes
    nan_frame = frames[1].copy()
    nan_frame[7] = np.nan
    noisy = (rng.normal(size=L) + 1j * rng.normal(size=L)).astype(np.complex64)
    snr = {"snr_db": 30.0}
    cases = [
        (0, frames[0], {**snr}, None),
        (1, nan_frame, {**snr}, "non_finite"),
        (2, frames[2][: L - 7], {**snr}, "frame_length"),            # truncated frame
        (3, noisy, {**snr}, "channel_failure"),                        # parity checks fail
        (4, undecodable, {**snr}, "source_failure"),                   # SourceDecodeError
        (5, frames[3], {}, "no_noise_var"),                            # neither noise_var nor snr_db
        (None, frames[4], {**snr}, None),                              # no index: dropped
        (7, frames[5], {"noise_var": np.full(L, 1e-3, np.float32)}, None),   # per-symbol noise variance
    ]
    data, tags = [], []
    for index, frame, extra, _ in cases:
        data.append(frame)
        t = dict(extra)
        if "noise_var" in t:
            t["noise_var"] = pmt.init_f32vector(L, t["noise_var"].tolist())
        if index is not None:
            t.update(index=index, label=index % 10)
        tags.append(t)
    notice = base.make_pdu({"index": 50, "label": 3, "lost": True, "lost_reason": "infeasible",
                              "shape": [1, 28, 28]}, np.zeros(0, np.float32))
    rx = _rx(bundle_dir)
    out = _run_rx(rx, testing.frames_source(data, tags), 8, [notice])
    by_index = {m["index"]: (m, p) for m, p in out}
    assert sorted(by_index) == [0, 1, 2, 3, 4, 5, 7, 50]
    mean = _mean_image()
    mean_pred = int(_classify(bundle_dir, mean[None])[0])
    expected_lost = {index: reason for index, _, _, reason in cases if reason is not None}
    expected_lost[50] = "infeasible"
    for index, (meta, pixels) in by_index.items():
        if index in expected_lost:
            assert meta["lost"] is True and meta["lost_reason"] == expected_lost[index], meta
            np.testing.assert_allclose(pixels.reshape(mean.shape), mean, atol=1e-6)
            assert meta["pred"] == mean_pred
        else:
            assert meta["lost"] is False
    np.testing.assert_allclose(by_index[0][1], library["decoded"][0].reshape(-1), atol=1e-6)
    np.testing.assert_allclose(by_index[7][1], library["decoded"][5].reshape(-1), atol=1e-6)
    assert by_index[50][0]["label"] == 3
    assert rx.delivered() == 2 and rx.lost() == 6
    assert rx.lost_reasons() == {"non_finite": 1, "frame_length": 1, "channel_failure": 1, "source_failure": 1,
                                 "no_noise_var": 1, "infeasible": 1}
    assert rx.dropped() == 1 and set(rx.drop_reasons()) == {"frame without index"}


def test_absurd_noise_tags_lose_only_their_frame(bundle_dir, library):
    """A noise variance that is a string, an SNR of -1e6 dB or a noise variance of 1e300 is no noise
    estimate: that frame is lost with the reason, the frames around it decode as in a clean run."""
    frames = library["frames"]
    bad = [{"noise_var": "loud"}, {"snr_db": -1e6}, {"noise_var": 1e300}]
    tags, data = [], []
    for i in range(6):
        data.append(frames[i])
        tags.append({"index": i, "label": 0, **(bad[i // 2] if i % 2 else {"snr_db": 30.0})})
    rx = _rx(bundle_dir)
    out = _run_rx(rx, testing.frames_source(data, tags), 6)
    by_index = {m["index"]: (m, p) for m, p in out}
    assert sorted(by_index) == list(range(6))
    for i in (0, 2, 4):
        assert by_index[i][0]["lost"] is False
        np.testing.assert_allclose(by_index[i][1], library["decoded"][i].reshape(-1), atol=1e-6)
    assert rx.lost_reasons() == {"no_noise_var": 3} and rx.delivered() == 3 and rx.dropped() == 0


@pytest.mark.parametrize("channel_name", ["awgn", "rayleigh_fast"])
def test_channel_tags_the_equalised_noise_variance(bundle_dir, library, channel_name):
    frames, n = library["frames"], len(library["frames"])
    L = library["plan"].symbols
    snr_db = 25.0
    tb = gr.top_block()
    src = testing.frames_source(list(frames), [{"index": i, "label": int(library["labels"][i])} for i in range(n)])
    ch = semcom.channel(channel_name, snr_db, seed=3)
    rx = _rx(bundle_dir)
    tap = blocks.vector_sink_c()
    debug = blocks.message_debug()
    tb.connect(src, ch, rx)
    tb.connect(ch, tap)
    tb.msg_connect(rx, "pdu", debug, "store")
    assert testing.run_bounded(tb, lambda: debug.num_messages() >= n, 60.0)
    noise = [v for _, v in testing.tags_by_key(tap)["noise_var"]]
    assert len(noise) == n
    if channel_name == "awgn":   # one value per frame: N0
        assert all(np.isscalar(v) and v == pytest.approx(10 ** (-snr_db / 10), rel=1e-6) for v in noise)
    else:                        # a gain per symbol: N0 / |h|^2 per symbol
        assert all(np.asarray(v).shape == (L,) and (np.asarray(v) >= 10 ** (-snr_db / 10) * 1e-3).all()
                   for v in noise)
    out = testing.pdus(debug)
    assert sorted(m["index"] for m, _ in out) == list(range(n))
    if channel_name == "awgn":   # 25 dB is far above 64-QAM 3/4's threshold: error-free
        assert rx.delivered() == n
        got = np.stack([p for _, p in sorted(out, key=lambda o: o[0]["index"])])
        np.testing.assert_allclose(got.reshape(library["decoded"].shape), library["decoded"], atol=1e-6)
    assert rx.delivered() + rx.lost() == n


def test_needs_a_bundle_and_matching_arguments(tmp_path):
    from semcom_core.bundles import BundleError

    with pytest.raises(BundleError):
        semcom.digital_rx("bpg", "nr", "3/4", 64, 576, CHANNEL_USES, "")
    with pytest.raises(BundleError):
        semcom.digital_rx("bpg", "nr", "3/4", 64, 576, CHANNEL_USES, str(tmp_path / "missing"))
    with pytest.raises(ValueError):
        semcom.digital_rx("bpg", "nr", "3/4", 5, 576, CHANNEL_USES, testing.make_bundle(tmp_path / "b"))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
