"""The sweep ledger on its own: records kept per run and key, dropped when the run is trained again;
the shared classifier restored, and refused when it is not the one the records were measured with."""

from __future__ import annotations

import json
import time

import pytest

from semcom_core.experiments.ledger import Ledger
from semcom_core.runs.config import ConfigError
from semcom_core.runs.folder import write_run

CONFIG = {"method": "deepjscc", "ratio": 1 / 24, "trainer": {"max_epochs": 3}}


def _finished_run(folder, **config):
    write_run(folder, "image", "deepjscc", {**CONFIG, **config}, command="semcom train", stages=[], seconds=1.0)
    return folder


def test_a_record_is_measured_once_and_then_read(tmp_path):
    ledger, run = Ledger(tmp_path / "ledger"), _finished_run(tmp_path / "runs" / "a")
    calls = []
    measure = lambda: calls.append(1) or {"psnr": 20.0 + len(calls)}  # noqa: E731
    assert ledger.point("a", "20dB", run, measure) == {"psnr": 21.0}
    assert Ledger(tmp_path / "ledger").point("a", "20dB", None, measure) == {"psnr": 21.0}   # read back, no weights
    assert len(calls) == 1
    assert Ledger(tmp_path / "ledger").point("a", "5dB", None, measure) is None  # never measured, weights gone
    assert Ledger(tmp_path / "ledger").holds("a", {**CONFIG, "trainer": {"max_epochs": 3, "compile": True}})
    with pytest.raises(ConfigError, match="differs in ratio"):
        Ledger(tmp_path / "ledger").holds("a", {**CONFIG, "ratio": 1 / 12})


def test_a_run_trained_again_drops_the_records_of_its_old_weights(tmp_path):
    ledger, run = Ledger(tmp_path / "ledger"), _finished_run(tmp_path / "runs" / "a")
    ledger.point("a", "20dB", run, lambda: {"psnr": 20.0})
    time.sleep(1.1)                                          # run.json's `created` has a resolution of 1 s
    _finished_run(run)
    Ledger(tmp_path / "ledger").add_run("a", run)            # what the sweeps do with every finished folder
    assert Ledger(tmp_path / "ledger").point("a", "20dB", run, lambda: {"psnr": 25.0}) == {"psnr": 25.0}
    entry = json.loads((tmp_path / "ledger" / "a.json").read_text())
    assert entry["points"] == {"20dB": {"psnr": 25.0}}
    assert entry["run"]["created"] == json.loads((run / "run.json").read_text())["created"]


def test_the_shared_classifier_travels_with_the_ledger(tmp_path):
    ledger, runs = Ledger(tmp_path / "ledger"), tmp_path / "runs"
    (runs / "classifiers").mkdir(parents=True)
    (runs / "classifiers" / "net.safetensors").write_bytes(b"weights")
    (runs / "classifiers" / "net.json").write_text("{}")
    ledger.keep_classifier("net", runs)
    elsewhere = tmp_path / "elsewhere"
    assert ledger.restore_classifier("net", elsewhere)
    assert (elsewhere / "classifiers" / "net.safetensors").read_bytes() == b"weights"
    assert not ledger.restore_classifier("other", elsewhere)
    (elsewhere / "classifiers" / "net.safetensors").write_bytes(b"retrained")
    with pytest.raises(ConfigError, match="not the one the ledger"):
        ledger.restore_classifier("net", elsewhere)


def test_a_run_stopped_by_other_training_settings_is_not_the_same_run(tmp_path):
    """Where a run ran (devices, compilation) may differ; when and on what it stopped may not: an entry
    trained under another cap or early-stopping monitor is refused, not reused as if it were this recipe's."""
    ledger = Ledger(tmp_path / "ledger")
    ledger.add_run("a", _finished_run(tmp_path / "runs" / "a", trainer={"max_epochs": 3, "monitor": "val/loss"}))
    same_place = {**CONFIG, "trainer": {"max_epochs": 3, "monitor": "val/loss", "devices": 4, "compile": True}}
    assert Ledger(tmp_path / "ledger").holds("a", same_place)
    with pytest.raises(ConfigError, match=r"differs in trainer\.max_epochs, trainer\.monitor"):
        Ledger(tmp_path / "ledger").holds("a", {**CONFIG, "trainer": {"max_epochs": 9, "monitor": "val/psnr"}})
