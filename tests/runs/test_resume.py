"""An image run killed mid-training resumes from its last finished epoch when trained again."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from semcom_core.runs.config import load_config
from semcom_core.runs.folder import read_run
from semcom_core.runs.image import train_run
from semcom_core.runs.resume import RunProgress, seconds_spent

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs/semcc/fmnist/deepjscc.yaml"
SETTINGS = ["dataset.train_size=256", "dataset.val_size=128", "model.width=8", "classifier.depth=8",
            "classifier.max_epochs=1", "trainer.batch_size=32", "trainer.limit_train_batches=2",
            "trainer.progress_bar=false", "trainer.max_epochs=6", "trainer.patience=50"]


def _overrides(settings: list[str] = SETTINGS) -> dict:
    out: dict = {}
    for pair in settings:
        key, value = pair.split("=")
        section, name = key.split(".")
        out.setdefault(section, {})[name] = {"true": True, "false": False}.get(value, value)
    return out


def _kill_after_first_epoch(run_dir: Path, settings: list[str] = SETTINGS) -> None:
    cmd = [sys.executable, "-m", "semcom_core.cli.main", "train", "--config", str(CONFIG), "--out", str(run_dir)]
    for pair in settings:
        cmd += ["--set", pair]
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=dict(os.environ, OMP_NUM_THREADS="1"))
    checkpoint, deadline = run_dir / "resume" / "stage1.ckpt", time.time() + 300
    while not checkpoint.is_file() and child.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert checkpoint.is_file(), "the run saved no epoch checkpoint"


def test_a_killed_run_resumes_where_it_stopped(tmp_path, capsys):
    run_dir = tmp_path / "run"
    _kill_after_first_epoch(run_dir)
    assert not (run_dir / "run.json").exists()
    saved = json.loads((run_dir / "resume" / "progress.json").read_text())
    assert saved["stages"] == [] and saved["seconds"] > 0

    cfg = load_config(CONFIG, _overrides())
    assert seconds_spent(run_dir, cfg) == saved["seconds"]            # what a time budget counts as done
    assert seconds_spent(run_dir, {**cfg, "ratio": cfg["ratio"] / 2}) == 0 and (run_dir / "resume").is_dir()
    run = read_run(train_run(cfg, run_dir))
    out = capsys.readouterr().out
    assert "classifier loaded from" in out and "resuming from" in out
    stage = run["stages"][0]
    assert stage["resumed"] is True and stage["epochs_run"] == 6       # the epochs of both attempts
    assert 1 <= stage["best_epoch"] <= 6 and run["seconds"] >= saved["seconds"]
    assert not (run_dir / "resume").exists() and run["config"]["classifier"]["checkpoint"] is None   # as configured
    # the second attempt logged only the epochs the first had not finished
    second = sorted((run_dir / "logs" / "deepjscc-train").iterdir())[-1] / "metrics.csv"
    epochs = {int(line.split(",")[0]) for line in second.read_text().splitlines()[1:] if line}
    assert min(epochs) >= 1 and max(epochs) == 5


def test_progress_of_another_config_is_discarded(tmp_path, capsys):
    cfg = load_config(CONFIG, _overrides())
    progress = RunProgress(tmp_path, cfg)
    progress.write()
    (tmp_path / "resume" / "stage1.ckpt").write_bytes(b"not a checkpoint")
    assert RunProgress(tmp_path, {**cfg, "trainer": {**cfg["trainer"], "progress_bar": True}}).started is False
    assert "unreadable" in capsys.readouterr().out          # same config, damaged checkpoint: the stage restarts
    assert not (tmp_path / "resume" / "stage1.ckpt").exists()
    (tmp_path / "resume" / "stage1.ckpt").write_bytes(b"x")
    RunProgress(tmp_path, {**cfg, "ratio": cfg["ratio"] / 2})
    assert "another config" in capsys.readouterr().out and not (tmp_path / "resume").exists()


def test_a_run_resumes_with_the_patience_now_configured(tmp_path, capsys):
    """Patience is not in the fingerprint, and the resumed stage stops by the config's patience, not the
    checkpoint's: with no epoch counted as progress after the first, patience 1 stops it after epoch 2."""
    run_dir, never_better = tmp_path / "run", [*SETTINGS, "trainer.min_delta=1e9"]
    _kill_after_first_epoch(run_dir, never_better)
    cfg = load_config(CONFIG, _overrides([*never_better, "trainer.patience=1"]))
    stage = read_run(train_run(cfg, run_dir))["stages"][0]
    assert "resuming from" in capsys.readouterr().out
    assert stage["resumed"] is True and stage["stopped_early"] is True
    assert stage["epochs_run"] == 2          # with the checkpoint's patience (50) it would run all 6


def test_early_stopping_state_is_found_under_lightnings_own_key():
    """A checkpoint written with Lightning's own EarlyStopping resumes into ours
    with its wait count and best value, not afresh."""
    from lightning.pytorch.callbacks import EarlyStopping
    from semcom_core.runs.image import _EarlyStopping
    ours, theirs = _EarlyStopping(monitor="val/loss", mode="min", patience=8), EarlyStopping(monitor="val/loss",
                                                                                           mode="min", patience=4)
    assert ours.state_key == theirs.state_key == "EarlyStopping{'monitor': 'val/loss', 'mode': 'min'}"


@pytest.mark.parametrize("setting", ["progress_bar", "num_workers", "compile", "patience", "min_delta"])
def test_watching_settings_do_not_change_the_fingerprint(setting):
    from semcom_core.runs.resume import fingerprint
    cfg = load_config(CONFIG, _overrides())
    changed = {**cfg, "trainer": {**cfg["trainer"], setting: 3}}
    assert fingerprint(changed) == fingerprint(cfg) != fingerprint({**cfg, "seed": cfg["seed"] + 1})
