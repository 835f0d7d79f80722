"""flowgraphs/semantic_vs_digital.grc: the semantic and the digital link side by side.

At high SNR the digital chain delivers every feasible image and its record
agrees with semcom_core's DigitalLink on the same images (error-free decoding
is deterministic); at low SNR it loses every image, counts them, and the
flowgraph still finishes. Both links' records land in the same file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("gnuradio.gr", reason="GNU Radio is not importable by this Python")

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "bundles" / "deepjscc-fmnist-1_12"
N_IMAGES = 30
DIGITAL = {"codec": "bpg", "family": "nr", "rate": "3/4", "qam": 64, "channel_uses": 131}

from gnuradio.semcom import running   # tests/flowgraphs/conftest.py: installed, else the source tree

pytestmark = pytest.mark.skipif(shutil.which("grcc") is None, reason="grcc (GNU Radio Companion compiler) not on PATH")


def _library_point(bundle_path: str, n: int, snr_db: float) -> dict:
    """The same point through semcom_core alone: DigitalLink over the library's AWGN channel."""
    import torch

    from semcom_core.baselines.images import ImageLadders, evaluate_link, lost_image
    from semcom_core.baselines.link import CodeChoice, DigitalLink
    from semcom_core.baselines.source import make_source_codec
    from semcom_core.bundles import load_bundle
    from semcom_core.channels import make_channel
    from semcom_core.data import load_dataset

    b = load_bundle(bundle_path)
    images, labels = load_dataset("fashion-mnist", split="test").batch(range(n))
    link = DigitalLink(make_source_codec(DIGITAL["codec"]),
                       CodeChoice(DIGITAL["family"], DIGITAL["rate"], DIGITAL["qam"]))
    ladders = ImageLadders(link.codec, images, progress=False)
    channel = make_channel("awgn", generator=torch.Generator().manual_seed(0))
    return evaluate_link(link, ladders, labels, lost_image("fashion-mnist"), b.classifier, channel, snr_db,
                         DIGITAL["channel_uses"])


def test_high_snr_delivers_every_feasible_image_like_the_library(bundle, tmp_path):
    out_path = tmp_path / "records.jsonl"
    snr_db = 25.0
    result = running.run_side_by_side(bundle, snr_db=snr_db, channel="awgn", num_images=N_IMAGES,
                                               out_path=str(out_path), timeout_s=300, **DIGITAL)
    sem, dig = result["semantic"], result["digital"]
    assert sem["complete"] and dig["complete"], result
    assert sem["count"] == N_IMAGES and dig["count"] == N_IMAGES
    assert dig["dropped_tx"] == 0 and dig["dropped_rx"] == 0

    ref = _library_point(bundle, N_IMAGES, snr_db)
    assert ref["n_channel_failures"] == 0 and ref["n_source_failures"] == 0   # error-free at 25 dB
    assert 0 < ref["n_delivered"] < N_IMAGES, "the test wants feasible and infeasible images"
    # every feasible image arrives; the infeasible ones are reported lost, none vanishes
    assert dig["lost"] == ref["n_infeasible"] == dig["infeasible_tx"]
    assert dig["lost_rx"] == {"infeasible": ref["n_infeasible"]}
    assert dig["delivered"] == pytest.approx(ref["delivered"])
    assert dig["psnr"] == pytest.approx(ref["psnr"], abs=0.01)
    assert dig["ssim"] == pytest.approx(ref["ssim"], abs=1e-3)
    assert dig["accuracy"] == pytest.approx(ref["accuracy"], abs=1.01 / N_IMAGES)
    assert dig["symbols"] == ref["symbols"] and dig["ratio"] == pytest.approx(DIGITAL["channel_uses"] / 784)
    # link quality: every codeword of the feasible frames decodes at 25 dB; 64-QAM there has a small
    # raw bit error rate, and the channel's EVM is the SNR's
    assert dig["bler"] == 0.0 and dig["block_errors"] == 0 and dig["code_blocks"] > 0
    assert dig["coded_bits"] > 0 and dig["coded_bits"] % dig["code_blocks"] == 0 and 0 <= dig["ber"] < 1e-2
    # (per frame against the frame's own power: 64-QAM frames of a few hundred symbols vary in power)
    assert sem["evm_db"] == pytest.approx(-snr_db, abs=0.3) and dig["evm_db"] == pytest.approx(-snr_db, abs=0.6)

    records = [json.loads(line) for line in out_path.read_text().splitlines()]
    assert sorted(r["method"] for r in records) == ["bpg+ldpc", "deepjscc"]
    by_method = {r["method"]: r for r in records}
    d, s = by_method["bpg+ldpc"], by_method["deepjscc"]
    assert d["delivered"] == pytest.approx(ref["delivered"]) and d["psnr"] == pytest.approx(dig["psnr"])
    assert "delivered" not in s and s["psnr"] == pytest.approx(sem["psnr"])
    for r in records:
        assert r["source"] == "flowgraph" and r["samples"] == N_IMAGES and r["snr_db"] == snr_db
        assert r["channel"] == "awgn" and r["dataset"] == "fashion-mnist"
    assert s["ratio"] == pytest.approx(65 / 784, rel=0.01) and d["ratio"] == pytest.approx(131 / 784)


def test_low_snr_loses_the_digital_images_and_still_finishes(bundle, tmp_path):
    n = N_IMAGES // 2
    out_path = tmp_path / "records.jsonl"
    result = running.run_side_by_side(bundle, snr_db=0.0, channel="awgn", num_images=n,
                                               out_path=str(out_path), timeout_s=300, **DIGITAL)
    sem, dig = result["semantic"], result["digital"]
    assert sem["complete"] and dig["complete"], result
    assert dig["count"] == n and dig["lost"] == n and dig["delivered"] == 0.0
    assert set(dig["lost_rx"]) <= {"infeasible", "channel_failure", "source_failure"}
    assert dig["lost_rx"].get("channel_failure", 0) > 0
    assert sum(dig["lost_rx"].values()) == n
    # codewords fail at 0 dB; those that pass (if any) were decoded from a channel with many raw bit errors
    assert dig["bler"] > 0.5 and dig["block_errors"] > 0
    assert dig["coded_bits"] == 0 or dig["ber"] > 1e-2
    # the semantic link degrades gracefully: its images are still better than the mean image
    assert sem["count"] == n and sem["psnr"] > dig["psnr"]
    records = [json.loads(line) for line in out_path.read_text().splitlines()]
    assert sorted(r["method"] for r in records) == ["bpg+ldpc", "deepjscc"]
    assert next(r for r in records if r["method"] == "bpg+ldpc")["delivered"] == 0.0
