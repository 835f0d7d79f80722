"""`semcom experiment digital` end to end on a tiny grid: records, best pair, the bound, figures."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from semcom_core.runs.config import ConfigError
from semcom_core.experiments.digital import best_per_point, load_digital_spec, run_digital
from semcom_core.records import read_records

REPO = Path(__file__).resolve().parents[2]
TINY = {"dataset": {"val_size": 200}, "trainer": {"limit_train_batches": 2, "max_epochs": 1, "progress_bar": False}}


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("digital")
    semantic = _write(tmp / "semantic.yaml", {
        "methods": {"deepjscc": str(REPO / "configs/semcc/fmnist/deepjscc.yaml")},
        "classifiers": {"resnet20": {"arch": "resnet_cifar", "depth": 8, "max_epochs": 1}},
        "train_with": "resnet20", "ratios": ["1/24"], "snrs": [20], "channels": ["awgn"],
        "ablation": {"snr": 20, "ratios": ["1/24"], "channels": ["awgn"]},
        "alpha": {"methods": ["deepjscc"], "ratio": "1/24", "snr": 20, "channel": "awgn", "values": [0.5]},
        "robustness": {"test_snrs": [20], "cases": []},
        "visual": {"ratio": "1/24", "snr": 20, "channel": "awgn", "images": 4}})
    spec = _write(tmp / "digital.yaml", {
        "semantic_spec": str(semantic), "eval_samples": 24, "codecs": ["bpg", "jpeg"],
        "codes": {"family": "wimax", "n": 576, "rates": ["1/2", "3/4"], "qams": [16, 64]},
        "ratios": ["1/6", "1/2"], "snrs": [25, 0], "channels": ["awgn"],
        "sweep": {"codec": "bpg", "ratios": ["1/2"], "snrs": [0, 12, 25], "channels": ["rayleigh"],
                  "pairs": ["wimax576-r3/4-64qam"]}})
    out = run_digital(spec, tmp / "runs", tmp / "out", overrides=TINY, progress=False)
    return out


def test_records_cover_every_pair_and_point(experiment):
    records = read_records(experiment / "digital.jsonl")
    pairs = [r for r in records if r["method"].endswith("+ldpc") and r["config"] != "best"]
    assert len(pairs) == 2 * 4 * 2 * 2          # codecs x pairs x ratios x SNRs
    assert {r["config"] for r in pairs} == {"wimax576-r1/2-16qam", "wimax576-r1/2-64qam",
                                            "wimax576-r3/4-16qam", "wimax576-r3/4-64qam"}
    assert all(r["samples"] == 24 and r["classifier"] == "resnet20" and r["source"] == "experiment" for r in records)
    assert all(r["n_sent"] == 24 for r in records)
    for r in pairs:
        assert r["n_delivered"] + r["n_infeasible"] + r["n_channel_failures"] + r["n_source_failures"] == 24
        assert r["delivered"] == pytest.approx(r["n_delivered"] / 24)
    # BPG at 1/2 and 25 dB gets through; at 0 dB nothing does (the cliff)
    best = {(r["method"], r["ratio"], r["snr_db"]): r for r in records if r["config"] == "best"}
    assert best[("bpg+ldpc", 0.5, 25.0)]["delivered"] > 0.9
    assert best[("bpg+ldpc", 0.5, 0.0)]["delivered"] == 0.0
    assert best[("bpg+ldpc", 0.5, 25.0)]["psnr"] > best[("bpg+ldpc", 0.5, 0.0)]["psnr"] + 10


def test_best_per_point_takes_the_best_pair(experiment):
    records = [r for r in read_records(experiment / "digital.jsonl") if r["config"] not in ("best", "capacity")]
    groups = defaultdict(list)
    for r in records:
        groups[(r["method"], r["channel"], r["snr_db"], r["ratio"])].append(r)
    for best in best_per_point(records):
        group = groups[(best["method"], best["channel"], best["snr_db"], best["ratio"])]
        assert best["accuracy"] == max(r["accuracy"] for r in group)
        assert best["psnr"] == max(r["psnr"] for r in group)


def test_no_record_beats_the_capacity_bound(experiment):
    records = read_records(experiment / "digital.jsonl") + read_records(experiment / "sweep.jsonl")
    bound = {(r["method"].split("+")[0], r["channel"], r["snr_db"], r["ratio"]): r
             for r in records if r["config"] == "capacity"}
    practical = [r for r in records if r["config"] != "capacity"]
    assert practical
    for r in practical:
        b = bound[(r["method"].split("+")[0], r["channel"], r["snr_db"], r["ratio"])]
        assert r["psnr"] <= b["psnr"] + 1e-9 and r["delivered"] <= b["delivered"] + 1e-9, r["config"]


def test_figures_and_table(experiment):
    for name in ("versus-ratio.png", "versus-snr.png", "digital.md"):
        assert (experiment / name).stat().st_size > 1000 or name.endswith(".md")
    assert "bpg+capacity" in (experiment / "digital.md").read_text()


def test_spec_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_digital_spec(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="unknown keys"):
        load_digital_spec(_write(tmp_path / "bad.yaml", {"semantic_spec": "x", "codecs": [], "codes": {},
                                                          "ratios": ["1/2"], "snrs": [1], "channels": ["awgn"],
                                                          "typo": 1}))


def test_committed_results_never_beat_the_bound():
    """The Fashion-MNIST records in results/digital-fmnist: no pair beats BPG + capacity anywhere."""
    folder = REPO / "results/digital-fmnist"
    records = read_records(folder / "digital.jsonl") + read_records(folder / "sweep.jsonl")
    bound = {(r["method"].split("+")[0], r["channel"], r["snr_db"], r["ratio"]): r
             for r in records if r["config"] == "capacity"}
    practical = [r for r in records if r["config"] != "capacity"]
    assert len(practical) > 500
    for r in practical:
        b = bound[(r["method"].split("+")[0], r["channel"], r["snr_db"], r["ratio"])]
        assert r["accuracy"] <= b["accuracy"] and r["psnr"] <= b["psnr"] + 1e-9, r
