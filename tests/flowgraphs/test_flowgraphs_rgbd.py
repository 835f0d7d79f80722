"""flowgraphs/rgbd_devices.grc headless: two devices with independent channels and a server, against the
library's evaluation of the same bundle on the same samples."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
import torch

pytest.importorskip("gnuradio.gr", reason="GNU Radio is not importable by this Python")

from gnuradio.semcom import running   # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "bundles" / "rgbd-proposed-snr10"
N = 300


def _library_accuracy(snr_db) -> float:
    from semcom_core.bundles.multimodal import load_multimodal_bundle
    from semcom_core.runs.multimodal import load_data

    system, card = load_multimodal_bundle(BUNDLE)
    xs, labels = load_data(card["config"], "test").batch(range(N))
    torch.manual_seed(0)
    with torch.no_grad():
        return float((system(xs, snr_db).argmax(1) == labels).float().mean())


@pytest.mark.skipif(shutil.which("grcc") is None, reason="grcc not on PATH")
@pytest.mark.parametrize("snrs", [(10.0, 10.0), (10.0, 0.0)], ids=["both-10dB", "depth-0dB"])
def test_rgbd_flowgraph_matches_the_library(snrs):
    summary = running.run_rgbd(str(BUNDLE), snr_db=snrs, num_samples=N, timeout_s=300)
    assert summary["complete"] and summary["classified"] == N, summary
    assert summary["fallbacks"] == 0 and summary["dropped"] == 0
    assert summary["dropped_tx"] == {"rgb": 0, "depth": 0} == summary["dropped_rx"]
    library = _library_accuracy(list(snrs))
    assert abs(summary["accuracy"] - library) < 3 * math.sqrt(library * (1 - library) / N) + 0.02, (summary, library)
