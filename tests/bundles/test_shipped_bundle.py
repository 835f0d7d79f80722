"""What the shipped bundle must show on AWGN, measured with the same code `semcom eval` runs."""

from __future__ import annotations

import pytest

from semcom_core.bundles import load_bundle
from semcom_core.bundles.evaluate import evaluate_bundle


@pytest.fixture(scope="module")
def awgn_records(shipped_bundle_path):
    return evaluate_bundle(load_bundle(shipped_bundle_path), "awgn", [0, 5, 10, 20], samples=2000, progress=False)


def test_card_records_how_it_was_made(shipped_bundle_path):
    card = load_bundle(shipped_bundle_path).card
    assert card["method"] == "deepjscc" and card["dataset"]["name"] == "fashion-mnist"
    assert abs(card["ratio"] - 1 / 12) < 0.002
    assert card["command"].startswith("semcom train --config configs/deepjscc_fmnist_1-12.yaml")
    assert "semcom export" in card["command"]
    assert {p["snr_db"] for p in card["metrics"]["points"]} >= {0.0, 20.0}


def test_psnr_rises_with_snr(awgn_records):
    psnrs = [r["psnr"] for r in awgn_records]
    assert all(b > a for a, b in zip(psnrs, psnrs[1:])), psnrs
    assert psnrs[-1] > 20.0


def test_accuracy_at_20db_close_to_clean(awgn_records):
    at20 = awgn_records[-1]
    assert at20["clean_accuracy"] > 0.85
    assert at20["accuracy"] >= at20["clean_accuracy"] - 0.05, at20


def test_card_metrics_reproduce(shipped_bundle_path, awgn_records):
    card = load_bundle(shipped_bundle_path).card
    by_snr = {p["snr_db"]: p for p in card["metrics"]["points"]}
    for record in awgn_records:
        if record["snr_db"] in by_snr:
            assert abs(record["psnr"] - by_snr[record["snr_db"]]["psnr"]) < 0.3
