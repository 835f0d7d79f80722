"""flowgraphs/adaptive_snr.grc: A-MIJSCC frames with side information while the SNR changes."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

pytest.importorskip("gnuradio.gr", reason="GNU Radio is not importable by this Python")

REPO = Path(__file__).resolve().parents[2]

from gnuradio.semcom import running   # tests/flowgraphs/conftest.py: installed, else the source tree

needs_grcc = pytest.mark.skipif(shutil.which("grcc") is None, reason="grcc (GNU Radio Companion compiler) not on PATH")


@pytest.fixture(scope="module")
def amijscc(tmp_path_factory) -> str:
    from semcom_core.bundles import make_untrained_bundle

    return str(make_untrained_bundle(tmp_path_factory.mktemp("bundle") / "a-mijscc", q=8, method="a-mijscc"))


@needs_grcc
def test_adaptive_snr_flowgraph_runs_headless(amijscc):
    snrs = (6.0, 12.0, 18.0, 21.0)
    per = 30
    r = running.run_adaptive_snr(amijscc, snrs=snrs, images_per_snr=per, timeout_s=300)
    assert r["complete"], r
    steps = r["steps"]
    assert [s["snr_db"] for s in steps] == list(snrs)
    # every frame accounted for: decoded or dropped, per step and in total
    assert r["sent"] == len(snrs) * per and r["dropped_tx"] == 0
    assert r["decoded"] + r["dropped"] == r["sent"]
    assert all(s["delivered"] + s["dropped"] == s["sent"] == per for s in steps)
    assert r["summary"]["count"] == r["decoded"]
    # the channel followed the schedule frame by frame
    assert [s["channel_snr_db"] for s in steps if s["delivered"]] == [s["snr_db"] for s in steps if s["delivered"]]
    # A-MIJSCC: fewer (or as many) symbols per image as the SNR rises; the header is always there
    symbols = [s["symbols"] for s in steps]
    assert all(a >= b for a, b in zip(symbols, symbols[1:])), symbols
    assert all(math.isclose(s["symbols"] - s["payload_symbols"], r["header_symbols"]) for s in steps)
    assert all(0.0 <= s["gamma"] <= 1.0 for s in steps)


@needs_grcc
def test_adaptive_snr_flowgraph_without_the_mask_sends_k_symbols(amijscc):
    r = running.run_adaptive_snr(amijscc, snrs=(6.0, 18.0), images_per_snr=10, adaptive=False,
                                          quant_bits=0, timeout_s=300)
    assert r["complete"] and r["decoded"] + r["dropped"] == r["sent"] == 20
    assert all(s["payload_symbols"] == r["k"] and s["gamma"] == 1.0 for s in r["steps"])
