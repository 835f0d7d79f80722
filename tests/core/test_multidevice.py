"""The RGB-D system split into device transmitters and a server: the same decisions as the library's
system, and a server that still classifies when one device's frames are lost."""

from pathlib import Path

import numpy as np
import pytest
import torch

from semcom_core.bundles.multimodal import load_multimodal_bundle
from semcom_core.channels import make_channel
from semcom_core.link.multidevice import device_frames, server_classify
from semcom_core.runs.multimodal import load_data

BUNDLE = Path(__file__).resolve().parents[2] / "bundles" / "rgbd-proposed-snr10"
N = 600


@pytest.fixture(scope="module")
def system_and_data():
    system, card = load_multimodal_bundle(BUNDLE)
    xs, labels = load_data(card["config"], "test").batch(range(N))
    return system, card, xs, labels


def _through_awgn(frames, snr_db, seed):
    channel = make_channel("awgn", generator=torch.Generator().manual_seed(seed))
    return [(channel(torch.as_tensor(p)[None], snr_db)[0].numpy(), side) for p, side in frames]


def test_shipped_bundle_card_names_its_devices(system_and_data):
    system, card, _, _ = system_and_data
    assert card["family"] == "multimodal" and card["modalities"] == ["rgb", "depth"] == system.modalities
    assert card["symbols_per_sample"] == 2 * system.k // 2 and card["metrics"]["accuracy"] > 0.8


def test_devices_and_server_decide_like_the_system(system_and_data):
    system, _, xs, labels = system_and_data
    frames = {m: device_frames(system, m, x) for m, x in zip(system.modalities, xs)}
    assert all(len(f) == N and f[0][0].shape == (system.k // 2,) for f in frames.values())
    power = np.mean([np.mean(np.abs(p) ** 2) for f in frames.values() for p, _ in f])
    assert power == pytest.approx(1.0, abs=1e-3)                        # unit power per device frame
    clean = server_classify(system, frames)
    with torch.no_grad():
        reference = system.server(torch.cat([system.encoders[m](x) for m, x in zip(system.modalities, xs)], 1))
    # noiseless: the server sees each device's features up to its unit-power scaling
    agree = (clean.argmax(1) == reference.argmax(1)).float().mean().item()
    assert agree > 0.97
    with torch.no_grad():
        library = (system(xs, 10.0).argmax(1) == labels).float().mean().item()
    split = (server_classify(system, {m: _through_awgn(f, 10.0, i) for i, (m, f) in enumerate(frames.items())})
             .argmax(1) == labels).float().mean().item()
    assert abs(split - library) < 3 * np.sqrt(library * (1 - library) / N) + 0.01, (split, library)


def test_a_lost_device_falls_back_to_the_other(system_and_data):
    system, _, xs, labels = system_and_data
    frames = {m: _through_awgn(device_frames(system, m, x), 10.0, i)
              for i, (m, x) in enumerate(zip(system.modalities, xs))}
    both = (server_classify(system, frames).argmax(1) == labels).float().mean().item()
    for lost in system.modalities:
        one = dict(frames, **{lost: [None] * N})
        acc = (server_classify(system, one).argmax(1) == labels).float().mean().item()
        assert 0.3 < acc < both, (lost, acc, both)                     # chance is 0.1
    mixed = dict(frames, depth=[f if i % 2 else None for i, f in enumerate(frames["depth"])])
    assert server_classify(system, mixed).shape == (N, 10)
    with pytest.raises(ValueError, match=r"samples \[0\] were heard from no device"):
        server_classify(system, {"rgb": [None, frames["rgb"][1]], "depth": [None, frames["depth"][1]]})
    with pytest.raises(ValueError, match="no 'thermal' device"):
        device_frames(system, "thermal", xs[0])
