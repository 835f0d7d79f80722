"""`semcom experiment mijscc` end to end on a tiny spec, and the committed Fashion-MNIST results."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from semcom_core.runs.config import ConfigError
from semcom_core.runs.image import load_method
from semcom_core.experiments.mijscc import load_mijscc_spec, run_mijscc_experiment

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "results" / "mijscc-fmnist" / "mijscc.jsonl"
TINY = {"dataset": {"train_size": 256, "val_size": 64}, "model": {"width": 8}, "loss": {"disc_hidden": 16},
        "trainer": {"max_epochs": 1, "limit_train_batches": 2, "batch_size": 32},
        "classifier": {"depth": 8, "max_epochs": 1, "batch_size": 64}}


def test_tiny_experiment_writes_records_tables_and_figures(tmp_path):
    spec = {"base": str(REPO / "configs/mijscc/fmnist/mijscc.yaml"),
            "adaptive": str(REPO / "configs/mijscc/fmnist/a-mijscc.yaml"),
            "variants": {"mijscc": {}, "4bit": {"quant_bits": 4}},
            "adaptive_variants": {"a-eta2": {"loss": {"eta": 2.0}}},
            "cross_evaluation": [{"variant": "mijscc", "channel": {"name": "rayleigh", "csi": "ls", "pilots": 4}},
                                 {"variant": "4bit", "quant_bits": 8, "label": "8-bit at test"}],
            "snrs": [6, 21], "samples": 64, "label_fractions": [1.0, 0.1], "knn_k": 3,
            "probe": {"epochs": 2, "hidden": 16}, "digital": {"codec": "bpg", "samples": 4, "channels": ["awgn"],
                                                             "codes": {"n": 576, "rates": ["3/4"], "qams": [64]}},
            "seeds": [0, 1], "seeded": ["4bit"]}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = run_mijscc_experiment(path, tmp_path / "runs", tmp_path / "out", overrides=TINY, progress=False)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    semantic = [r for r in records if r["method"] in ("mijscc", "a-mijscc")]
    assert {(r["variant"], r["channel"]) for r in semantic} == {
        ("mijscc", "awgn"), ("4bit", "awgn"), ("a-eta2", "awgn"), ("mijscc", "rayleigh")}
    for r in semantic:
        assert 0 <= r["accuracy"] <= 1 and 0 <= r["accuracy_10"] <= 1 and 0 <= r["accuracy_knn"] <= 1
        assert r["psnr"] > 0 and r["samples"] == 64 and r["epochs_run"] == 1
        # a barely trained mask may switch every symbol off on a good channel: gamma 0 is legal there
        assert 0 <= r["gamma"] <= 1 and (r["gamma"] == 1.0 or r["method"] == "a-mijscc")
    # the cross-evaluation: the 4-bit runs (both seeds) tested with 8-bit symbols, told apart by their label
    tested = [r for r in semantic if r.get("tested_with")]
    assert {(r["variant"], r["tested_with"], r["q"], r["seed"]) for r in tested} == {
        ("4bit", "8-bit at test", 8, 0), ("4bit", "8-bit at test", 8, 1)}
    adaptive = sorted((r for r in semantic if r["method"] == "a-mijscc"), key=lambda r: r["snr_db"])
    assert adaptive[0]["gamma"] >= adaptive[-1]["gamma"]
    assert {r["method"] for r in records} >= {"bpg+ldpc", "bpg+capacity"}
    # rerunning reuses every run (nothing retrained) and rewrites the same set of records
    again = run_mijscc_experiment(path, tmp_path / "runs", tmp_path / "out", overrides=TINY, train=False,
                                  progress=False)
    assert len(again.read_text().splitlines()) == len(records)
    for name in ("results.md", "fig6-versus-snr.png", "fig10-constellation.png", "fig12-gamma.png",
                 "fig13-overhead.png", "fig5-lambda.png", "fig8-rayleigh-ls.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0, name
    report = (tmp_path / "out" / "results.md").read_text()
    assert "Table III: A-MIJSCC PSNR" in report and "Table IV: A-MIJSCC accuracy" in report
    # the seeded variant ran on both seeds (its own folder for the second), the others on the first only
    assert {r["seed"] for r in semantic if r["variant"] == "4bit"} == {0, 1}
    assert {r["seed"] for r in semantic if r["variant"] != "4bit"} == {0}
    assert (tmp_path / "runs" / "4bit-seed1" / "run.json").is_file()
    assert "| 4bit-seed1 | train |" in (tmp_path / "out" / "training.md").read_text()
    assert (tmp_path / "out" / "training_curves.png").is_file()
    claims = report.split("## The paper's claims")[1].split("## Figures")[0]
    assert "4-bit symbols reconstruct worse than 8-bit ones" in claims
    assert "| holds |" in claims or "| does not hold |" in claims
    assert " ± " in report.split("## Accuracy from the received latent")[1].split("##")[0]
    assert "| 4bit (8-bit at test) |" in report
    # a quantised run cannot be tested analog: its decoder reads the latent in other units
    with pytest.raises(ConfigError, match="analog and quantised"):
        load_method(tmp_path / "runs" / "4bit", quant_bits=None)
    # the run folders gone (a fresh checkout): the ledger in out/ holds every run and its records
    shutil.rmtree(tmp_path / "runs")
    carried = run_mijscc_experiment(path, tmp_path / "runs", tmp_path / "out", overrides=TINY, progress=False)
    assert sorted(carried.read_text().splitlines()) == sorted(again.read_text().splitlines())
    assert not (tmp_path / "runs" / "mijscc").exists()             # nothing was trained again
    # a run the ledger lacks trains again, and so does 'mijscc', whose classifier it loads; not when the time
    # budget is shorter than 'mijscc' took: both wait, and the ledger's 'mijscc' records stay
    (tmp_path / "out" / "ledger" / "4bit-seed1.json").unlink()
    short = run_mijscc_experiment(path, tmp_path / "runs", tmp_path / "out", overrides=TINY, progress=False,
                                  time_budget=0.01)
    assert not (tmp_path / "runs" / "mijscc").exists()
    assert {json.loads(line)["variant"] for line in short.read_text().splitlines()} >= {"mijscc", "a-eta2"}
    run_mijscc_experiment(path, tmp_path / "runs", tmp_path / "out", overrides=TINY, progress=False)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["4bit-seed1", "mijscc"]
    assert (tmp_path / "out" / "ledger" / "4bit-seed1.json").is_file()


# no label on a case that keeps the channel (its records would mix with the run's own), an unknown variant,
# an unknown key
@pytest.mark.parametrize("case", [{"variant": "mijscc", "quant_bits": 4},
                                  {"variant": "nope", "quant_bits": 4, "label": "x"},
                                  {"variant": "mijscc", "snr": 3, "label": "x"}])
def test_cross_evaluation_cases_are_checked(tmp_path, case):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({"base": "x", "variants": {"mijscc": {}}, "cross_evaluation": [case]}))
    with pytest.raises(ConfigError, match="cross_evaluation"):
        load_mijscc_spec(path)


def test_spec_without_the_base_variant_is_refused(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({"base": "x", "variants": {"mse": {}}}))
    with pytest.raises(ConfigError, match="mijscc"):
        load_mijscc_spec(path)
    path.write_text(yaml.safe_dump({"base": "x", "variants": {"mijscc": {}}, "colour": 1}))
    with pytest.raises(ConfigError, match="colour"):
        load_mijscc_spec(path)


@pytest.mark.skipif(not RESULTS.is_file(), reason="results/mijscc-fmnist not committed")
def test_committed_results_are_consistent():
    records = [json.loads(line) for line in RESULTS.read_text().splitlines()]
    semantic = [r for r in records if r["method"] in ("mijscc", "a-mijscc")]
    assert {"mijscc", "mse", "analog", "4bit", "no-local", "no-global", "rayleigh-ls"} <= {r["variant"] for r in semantic}
    for variant, seed in {(r["variant"], r["seed"]) for r in semantic if r["method"] == "a-mijscc"}:
        rs = sorted((r for r in semantic if r["variant"] == variant and r["seed"] == seed and r["channel"] == "awgn"),
                    key=lambda r: r["snr_db"])
        gammas = [r["gamma"] for r in rs]     # each trained network sends fewer symbols as SNR rises
        assert all(a >= b for a, b in zip(gammas, gammas[1:])), (variant, seed, gammas)
    for r in semantic:
        assert 0 <= r["accuracy"] <= 1 and r["samples"] >= 1000
    # the cross-evaluations behind the LS claim's reason ran on every seed
    assert {r["seed"] for r in semantic if r.get("tested_with") == "LS at test"} == {0, 1, 2}
    # every claim that does not hold states its measured reason
    claims = (RESULTS.parent / "results.md").read_text().split("## The paper's claims")[1].split("## Figures")[0]
    failing = [line for line in claims.splitlines() if "| does not hold |" in line]
    assert failing and all(line.rstrip(" |").split("| does not hold |")[1].strip() for line in failing)
    # the capacity bound carries at least as much as the practical link at every point
    best = {(r["snr_db"]): r for r in records if r["method"] == "bpg+ldpc"}
    for r in records:
        if r["method"] == "bpg+capacity" and r["snr_db"] in best:
            assert r["delivered"] >= best[r["snr_db"]]["delivered"]
