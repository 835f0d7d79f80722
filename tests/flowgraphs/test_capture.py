"""SigMF captures: a recorded OFDM transmission (committed in hardware/captures) replayed through the
receiver decodes like the live link; damaged or foreign captures are refused with the file named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gnuradio.gr", reason="GNU Radio is not importable by this Python")

from gnuradio.semcom import running   # noqa: E402
from semcom_core.bundles import load_bundle   # noqa: E402
from semcom_core.link.air.sigmf_io import CaptureError, read_capture, write_capture   # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CAPTURE = REPO / "hardware" / "captures" / "a-mijscc-ofdm-20dB"
BUNDLE = REPO / "bundles" / "a-mijscc-fmnist-8bit"


def test_the_committed_capture_replays_through_the_receiver():
    samples, info = read_capture(CAPTURE)
    bundle = load_bundle(BUNDLE)
    assert info["bundle_id"] == bundle.bundle_id, (
        "the capture was made by another version of the bundle (its frames would be refused): re-record it with "
        "`semcom capture record hardware/captures/a-mijscc-ofdm-20dB --images 8 --snr-db 20 --cfo 0.05 --seed 3`")
    assert info["sample_rate"] == 1e6 and info["fft_len"] == 64 and len(samples) > 1000
    summary = running.replay_capture(CAPTURE, str(BUNDLE))
    assert summary["frames"] == summary["count"] == info["num_images"] == 8 and summary["complete"]
    assert summary["dropped"] == {"ofdm_rx": {}, "rx": {}}
    # as the same images through semcom_core's own link at the recorded SNR (8 images: a loose bound)
    from semcom_core.bundles.evaluate import evaluate_bundle

    (reference,) = evaluate_bundle(bundle, "awgn", [info["snr_db"]], samples=8, progress=False)
    assert abs(summary["psnr"] - reference["psnr"]) < 1.0, (summary["psnr"], reference["psnr"])


def test_record_then_replay_round_trip(tmp_path):
    meta = running.record_capture(str(BUNDLE), tmp_path / "clean", num_images=4, start_index=20)
    info = json.loads(meta.read_text())["global"]
    assert info["core:datatype"] == "cf32_le" and info["semcom:start_index"] == 20
    summary = running.replay_capture(tmp_path / "clean", str(BUNDLE))
    assert summary["count"] == 4 and summary["frames"] == 4 and summary["accuracy"] >= 0.5


def test_damaged_and_foreign_captures_are_refused(tmp_path):
    shutil.copy(CAPTURE.with_suffix(".sigmf-meta"), tmp_path / "no-data.sigmf-meta")
    with pytest.raises(CaptureError, match="no-data.sigmf-data is missing"):
        read_capture(tmp_path / "no-data")
    write_capture(tmp_path / "plain", np.ones(16, np.complex64), 1e6)              # not a semcom recording
    with pytest.raises(CaptureError, match="lacks semcom:num_images"):
        running.replay_capture(tmp_path / "plain", str(BUNDLE))
    meta = json.loads((tmp_path / "plain.sigmf-meta").read_text())
    meta["global"]["core:datatype"] = "ci16_le"
    meta["global"].pop("core:sha512")
    (tmp_path / "plain.sigmf-meta").write_text(json.dumps(meta))
    with pytest.raises(CaptureError, match="'ci16_le' samples; semcom reads cf32_le"):
        read_capture(tmp_path / "plain")
    with open(tmp_path / "plain.sigmf-data", "ab") as f:                           # a checksum that no longer fits
        f.write(b"\0" * 4)
    meta["global"]["core:datatype"] = "cf32_le"
    (tmp_path / "plain.sigmf-meta").write_text(json.dumps(meta))
    with pytest.raises(CaptureError, match="not a whole number"):
        read_capture(tmp_path / "plain")
