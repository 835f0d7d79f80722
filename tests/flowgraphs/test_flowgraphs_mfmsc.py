"""flowgraphs/mfmsc_task.grc and mfmsc_loopback.grc headless: one task, and every task in a mixed stream,
against the library's evaluation of the same bundle on the same instances."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gnuradio.gr", reason="GNU Radio is not importable by this Python")

from gnuradio.semcom import running   # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "bundles" / "mfmsc-embedded"


NOISE_SEEDS = range(6)


def _library(snr_db: float, n: int, seeds=NOISE_SEEDS) -> dict:
    """Per task: the library's metric on the first ``n`` test instances, one value per noise seed."""
    from semcom_core.bundles.mfmsc import load_mfmsc_bundle
    from semcom_core.data.mfmsc.tasks import build_tasks
    from semcom_core.metrics.tasks import METRIC_OF_KIND
    from semcom_core.runs.mfmsc import evaluate_task

    system, card, tokenizer = load_mfmsc_bundle(BUNDLE)
    _, test, _ = build_tasks(card["config"], splits=("test",), tokenizer=tokenizer)
    return {name: [evaluate_task(system, data.head(n), "awgn", snr_db, seed=s)[METRIC_OF_KIND[data.spec.kind]]
                   for s in seeds] for name, data in test.items()}


def _assert_within_the_noise(task: str, got: float, library: list, floor: float) -> None:
    """``got`` is one more draw of the channel noise: within four standard deviations of the library's runs
    with different noise seeds, plus ``floor`` for metrics the noise barely moves (where the flowgraph's noise
    still lands on other instances: its batches, and so its draws, follow the scheduler)."""
    mean, spread = float(np.mean(library)), float(np.std(library, ddof=1))
    assert abs(got - mean) <= 4 * spread + floor, (task, got, library)


def _two_processes(tmp_path, tx: str, rx: str, n: int, **tx_options) -> dict:
    """Run flowgraphs ``tx`` and ``rx`` as processes joined by ZMQ (every task, ``n`` instances each) until the
    receiver's records are in; returns them by task."""
    scripts = {name: running.compile_grc(REPO / "flowgraphs" / f"{name}.grc", tmp_path) for name in (tx, rx)}
    address = f"tcp://127.0.0.1:{running.free_tcp_port()}"
    records = tmp_path / "rx.jsonl"
    procs = [running.start_script(scripts[rx], running.script_options(
        bundle=BUNDLE, tasks="all", num_instances=n, address=address, out_path=records), tmp_path / "rx.log")]
    procs.append(running.start_script(scripts[tx], running.script_options(
        bundle=BUNDLE, tasks="all", num_instances=n, address=address, **tx_options), tmp_path / "tx.log"))
    try:
        assert running.wait_for_record(records, timeout_s=240, procs=procs[:1]) is not None, \
            (tmp_path / "rx.log").read_text()[-3000:]
    finally:
        for proc in procs:
            running.stop_script(proc, timeout_s=15)
    assert "semcom task metrics: " in (tmp_path / "rx.log").read_text()       # the summary at stop
    return {r["task"]: r for r in running.read_records(records)}


@pytest.mark.skipif(shutil.which("grcc") is None, reason="grcc not on PATH")
def test_one_task_flowgraph_matches_the_library(tmp_path):
    n = 200
    summary = running.run_mfmsc(str(BUNDLE), "vqa", snr_db=0.0, num_instances=n, out_path=tmp_path / "r.jsonl")
    assert summary["complete"] and summary["count"] == n and summary["problems"] == 0, summary
    assert summary["dropped_tx"] == 0 == summary["dropped_rx"]
    got = summary["tasks"]["vqa"]["value"]
    library = _library(0.0, n)["vqa"][0]
    assert abs(got - library) < 3 * math.sqrt(library * (1 - library) / n) + 0.02, (got, library)
    (record,) = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert record["task"] == "vqa" and record["source"] == "flowgraph" and record["accuracy"] == got


@pytest.mark.skipif(shutil.which("grcc") is None, reason="grcc not on PATH")
def test_mixed_task_flowgraph_scores_every_task_like_the_library():
    n = 60
    summary = running.run_mfmsc(str(BUNDLE), "all", snr_db=10.0, num_instances=n)
    assert summary["complete"] and summary["count"] == 8 * n and summary["problems"] == 0, summary
    library = _library(10.0, n)
    for task, values in library.items():
        got = summary["tasks"][task]
        _assert_within_the_noise(task, got["value"], values, floor=0.3 if got["metric"] == "psnr" else 0.05)
        assert got["count"] == n


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("grcc") is None, reason="grcc not on PATH")
def test_two_processes_transmitter_and_receiver_over_zmq(tmp_path):
    """mfmsc_tx_zmq.py (source, transmitter, channel at 10 dB) and mfmsc_rx_zmq.py (receiver, task metrics)
    joined by ZMQ with tags passed: one record per task, each within the metric's noise of the library."""
    n = 40
    got = _two_processes(tmp_path, "mfmsc_tx_zmq", "mfmsc_rx_zmq", n, snr_db=10.0, seed=3)
    library = _library(10.0, n)
    assert set(got) == set(library)
    for task, values in library.items():
        r = got[task]
        assert r["samples"] == n and r["source"] == "flowgraph" and r["channel"] == "zmq" and r["snr_db"] == 10.0
        _assert_within_the_noise(task, r[r["metric"]], values, floor=0.3 if r["metric"] == "psnr" else 0.08)


@pytest.mark.skipif(shutil.which("grcc") is None, reason="grcc not on PATH")
@pytest.mark.parametrize("tasks", ["all", "text_recon"])
def test_over_ofdm_the_header_gives_task_and_mask_and_every_task_scores_like_the_library(tasks):
    """flowgraphs/mfmsc_ofdm.grc: the burst header carries the task's number and the frame's length only; the
    receiver rebuilds the task and the token mask from them (text frames differ in length)."""
    n = 40
    summary = running.run_mfmsc_ofdm(str(BUNDLE), tasks, snr_db=20.0, num_instances=n)
    count = n * (8 if tasks == "all" else 1)
    assert summary["complete"] and summary["count"] == count and summary["lost"] == 0, summary
    assert summary["problems"] == 0 and summary["dropped_tx"] == 0 == summary["dropped_rx"]
    assert summary["bursts"] <= count
    library = _library(20.0, n)
    for task, got in summary["tasks"].items():
        _assert_within_the_noise(task, got["value"], library[task], floor=0.3 if got["metric"] == "psnr" else 0.08)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("grcc") is None, reason="grcc not on PATH")
def test_two_processes_over_ofdm_without_tags(tmp_path):
    """mfmsc_tx_ofdm_zmq.py and mfmsc_rx_ofdm_zmq.py joined by ZMQ with no tags crossing (the processes that
    hardware/usrp_mfmsc_*.grc run on radios): every task arrives through the burst header alone, and on the
    clean air each scores as the library without noise."""
    n = 24
    got = _two_processes(tmp_path, "mfmsc_tx_ofdm_zmq", "mfmsc_rx_ofdm_zmq", n)
    library = _library(60.0, n, seeds=(0,))
    assert set(got) == set(library)
    for task, (clean,) in library.items():
        r = got[task]
        assert r["samples"] == n and r["channel"] == "ofdm-zmq"
        assert r[r["metric"]] == pytest.approx(clean, abs=0.05 if r["metric"] == "psnr" else 0.02), (task, r, clean)


@pytest.mark.skipif(shutil.which("grcc") is None, reason="grcc not on PATH")
def test_bench_mfmsc_writes_flowgraph_and_library_records_per_task_and_a_table(tmp_path, capsys):
    from semcom_core.cli.main import main

    main(["bench", "mfmsc", "--instances", "12", "--snr-db", "10", "--out", str(tmp_path)])
    records = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text().splitlines()]
    assert sorted((r["source"], r["task"]) for r in records) == sorted(
        (source, task) for task in ("image_cls", "image_recon", "text_cls", "text_recon", "speech_asr", "video_cls",
                                    "vqa", "poster") for source in ("flowgraph", "eval"))
    assert all(r["samples"] == 12 and r["snr_db"] == 10.0 and r[r["metric"]] == r[r["metric"]] for r in records)
    table = (tmp_path / "results.md").read_text()
    assert "| 10 | vqa | accuracy | 12 |" in table and table in capsys.readouterr().out + "\n"
