"""`semcom bench train-precision`: both precisions trained alike, evaluated alike, and the verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from semcom_core.experiments.train_precision import check_config, check_train_precision, verdict
from semcom_core.runs.config import ConfigError
from semcom_core.runs.folder import read_run

REPO = Path(__file__).resolve().parents[2]
TINY = {"trainer": {"limit_train_batches": 2, "progress_bar": False}, "dataset": {"val_size": 200},
        "model": {"width": 8}, "classifier": {"depth": 8, "max_epochs": 1}}


def test_verdict_holds_within_the_tolerances_only():
    fp32 = {"psnr": 20.0, "accuracy": 0.80}
    assert verdict(fp32, {"psnr": 19.95, "accuracy": 0.795})
    assert verdict(fp32, {"psnr": 21.0, "accuracy": 0.90})
    assert not verdict(fp32, {"psnr": 19.8, "accuracy": 0.80})
    assert not verdict(fp32, {"psnr": 20.0, "accuracy": 0.78})


def test_fine_tuning_stage_only_where_the_method_has_one():
    semcc = check_config(str(REPO / "configs/semcc/fmnist/semcc.yaml"), 500, 3, 2, None, 0, "bf16-mixed")
    deepjscc = check_config(str(REPO / "configs/semcc/fmnist/deepjscc.yaml"), 500, 3, 2, None, 0, "bf16-mixed")
    assert semcc["finetune"]["epochs"] == 2 and deepjscc["finetune"]["epochs"] == 0
    for cfg in (semcc, deepjscc):
        assert cfg["trainer"]["precision"] == "bf16-mixed" and cfg["trainer"]["max_epochs"] == 3
        assert cfg["trainer"]["patience"] > 3 and cfg["dataset"]["train_size"] == 500


def test_both_precisions_train_and_evaluate(tmp_path):
    configs = {"deepjscc": str(REPO / "configs/semcc/fmnist/deepjscc.yaml")}
    kwargs = dict(runs_dir=tmp_path / "runs", out_dir=tmp_path / "out", train_size=256, epochs=1, samples=64,
                  configs=configs, overrides=TINY)
    rows = check_train_precision(**kwargs)
    assert [r["method"] for r in rows] == ["deepjscc"]
    records = [json.loads(line) for line in (tmp_path / "out" / "records.jsonl").read_text().splitlines()]
    assert [r["precision"] for r in records] == ["32-true", "bf16-mixed"]
    for record in records:
        run = read_run(tmp_path / "runs" / f"deepjscc-{record['precision']}")
        assert run["config"]["trainer"]["precision"] == record["precision"]
        assert record["psnr"] > 5 and 0 <= record["accuracy"] <= 1 and record["samples"] == 64
    assert rows[0]["holds"] == verdict(*records)
    assert "| deepjscc |" in (tmp_path / "out" / "results.md").read_text()
    # a second call reuses both runs
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*/run.json")}
    check_train_precision(**kwargs)
    assert stamps == {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*/run.json")}
    # another budget in the same folder is refused, not silently reused
    with pytest.raises(ConfigError, match="choose another --runs folder"):
        check_train_precision(**{**kwargs, "epochs": 2})



def test_the_compiled_mode_is_bf16_with_torch_compile():
    path = str(REPO / "configs/semcc/fmnist/deepjscc.yaml")
    compiled, eager = (check_config(path, 500, 3, 2, None, 0, mode)["trainer"] for mode in ("bf16-compiled", "bf16-mixed"))
    assert (compiled["precision"], compiled["compile"]) == ("bf16-mixed", True)
    assert (eager["precision"], eager["compile"]) == ("bf16-mixed", False)
    from semcom_core.cli.main import TRAINING_MODES
    from semcom_core.experiments.train_precision import MODES
    assert TRAINING_MODES == tuple(MODES)                     # what the command line offers
    with pytest.raises(ValueError, match="unknown training mode 'fp8'"):
        check_config(path, 500, 3, 2, None, 0, "fp8")
