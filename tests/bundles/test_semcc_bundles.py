"""The shipped SemCC and SemRE bundles (Fashion-MNIST, k/n = 1/24): cards, metrics, method checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from semcom_core.bundles import BundleError, load_bundle
from semcom_core.bundles.evaluate import evaluate_bundle

REPO = Path(__file__).resolve().parents[2]
BUNDLES = {"semcc": REPO / "bundles" / "semcc-fmnist-1_24", "semre": REPO / "bundles" / "semre-fmnist-1_24"}


@pytest.mark.parametrize("method", sorted(BUNDLES))
def test_card_says_what_it_is(method):
    card = load_bundle(BUNDLES[method], method=method).card
    assert card["method"] == method and card["dataset"]["name"] == "fashion-mnist"
    assert card["k"] == 33 and abs(card["ratio"] - 1 / 24) < 0.001
    assert card["command"].startswith("semcom train") and "semcom export" in card["command"]
    assert card["training"]["config"]["channel"]["name"] == "awgn"
    assert card["train_snr_db"] == [20.0, 20.0]


@pytest.mark.parametrize("method", sorted(BUNDLES))
def test_card_metrics_reproduce(method):
    bundle = load_bundle(BUNDLES[method])
    (record,) = evaluate_bundle(bundle, "awgn", [20.0], samples=2000, progress=False)
    card_point = next(p for p in bundle.card["metrics"]["points"] if p["snr_db"] == 20.0)
    assert abs(record["psnr"] - card_point["psnr"]) < 0.3
    assert abs(record["accuracy"] - card_point["accuracy"]) < 0.03


def test_semcc_keeps_the_class_at_a_small_ratio():
    points = {p["snr_db"]: p for p in load_bundle(BUNDLES["semcc"]).card["metrics"]["points"]}
    assert points[20.0]["accuracy"] > 0.8  # 33 complex symbols for a 784-pixel image
    assert points[20.0]["psnr"] > points[0.0]["psnr"]


def test_bundle_of_one_method_refused_as_another():
    with pytest.raises(BundleError, match="holds a 'semcc' transceiver, not 'deepjscc'"):
        load_bundle(BUNDLES["semcc"], method="deepjscc")
    done = subprocess.run([sys.executable, "-m", "semcom_core.cli.main", "eval", "--bundle", str(BUNDLES["semre"]),
                           "--method", "semcc", "--samples", "10"], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "holds a 'semre' transceiver, not 'semcc'" in done.stderr
