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


def _three_processes(tmp_path, device: str, server: str, device_options) -> dict:
    """Run flowgraph ``server`` and ``device`` once per modality (``device_options(modality)``: its own options)
    as processes joined by ZMQ until the server's record is in; returns it."""
    scripts = {name: running.compile_grc(REPO / "flowgraphs" / f"{name}.grc", tmp_path) for name in (device, server)}
    addresses = {m: f"tcp://127.0.0.1:{running.free_tcp_port()}" for m in ("rgb", "depth")}
    records = tmp_path / "server.jsonl"
    procs = [running.start_script(scripts[server], running.script_options(
        bundle=BUNDLE, rgb_address=addresses["rgb"], depth_address=addresses["depth"], num_samples=N,
        out_path=records, timeout_ms=5000), tmp_path / "server.log")]
    for modality in ("rgb", "depth"):
        procs.append(running.start_script(scripts[device], running.script_options(
            bundle=BUNDLE, device=modality, num_samples=N, address=addresses[modality], **device_options(modality)),
            tmp_path / f"{modality}.log"))
    try:
        record = running.wait_for_record(records, timeout_s=180, procs=procs[:1])
        assert record is not None, (tmp_path / "server.log").read_text()[-3000:]
    finally:
        for proc in procs:
            running.stop_script(proc, timeout_s=15)
    assert "semcom rgbd server: " in (tmp_path / "server.log").read_text()       # the summary at stop
    return record


@pytest.mark.skipif(shutil.which("grcc") is None, reason="grcc not on PATH")
@pytest.mark.parametrize("snrs", [(10.0, 10.0), (10.0, 0.0)], ids=["both-10dB", "depth-0dB"])
def test_rgbd_flowgraph_matches_the_library(snrs):
    summary = running.run_rgbd(str(BUNDLE), snr_db=snrs, num_samples=N, timeout_s=300)
    assert summary["complete"] and summary["classified"] == N, summary
    assert summary["fallbacks"] == 0 and summary["dropped"] == 0
    assert summary["dropped_tx"] == {"rgb": 0, "depth": 0} == summary["dropped_rx"]
    library = _library_accuracy(list(snrs))
    assert abs(summary["accuracy"] - library) < 3 * math.sqrt(library * (1 - library) / N) + 0.02, (summary, library)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("grcc") is None, reason="grcc not on PATH")
def test_three_processes_two_devices_and_a_server_over_zmq(tmp_path):
    """rgbd_device_zmq.py twice (RGB and depth, each with its own channel) and rgbd_server_zmq.py, joined by
    ZMQ: the server's record matches the single-process flowgraph's accuracy within noise."""
    record = _three_processes(tmp_path, "rgbd_device_zmq", "rgbd_server_zmq",
                              lambda modality: {"snr_db": 10.0, "seed": ("rgb", "depth").index(modality)})
    assert record["samples"] == N and record["source"] == "flowgraph" and record["channel"] == "zmq"
    assert record["fallbacks"] == 0 and record["lost_frames"] == {"rgb": 0, "depth": 0} and record["dropped"] == 0
    library = _library_accuracy([10.0, 10.0])
    assert abs(record["accuracy"] - library) < 3 * math.sqrt(library * (1 - library) / N) + 0.02, (record, library)


@pytest.mark.skipif(shutil.which("grcc") is None, reason="grcc not on PATH")
def test_bench_rgbd_writes_flowgraph_and_library_records_and_a_table(tmp_path, capsys):
    import json

    from semcom_core.cli.main import main

    main(["bench", "rgbd", "--samples", "120", "--snr-db", "10", "--out", str(tmp_path)])
    records = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text().splitlines()]
    assert [(r["source"], r["snr_db"], r["samples"]) for r in records] == [("flowgraph", 10.0, 120), ("eval", 10.0, 120)]
    table = (tmp_path / "results.md").read_text()
    assert "| 10 | 120 |" in table and table in capsys.readouterr().out + "\n"


@pytest.mark.skipif(shutil.which("grcc") is None, reason="grcc not on PATH")
def test_rgbd_over_ofdm_each_device_on_a_link_of_its_own_matches_the_library():
    """flowgraphs/rgbd_ofdm.grc: every frame crosses an OFDM burst link (preamble, coded header, equaliser);
    the labels come to the server from the source, since the burst header carries only the index."""
    summary = running.run_rgbd_ofdm(str(BUNDLE), snr_db=(10.0, 10.0), num_samples=N, timeout_s=300)
    assert summary["complete"] and summary["classified"] == N, summary
    assert summary["fallbacks"] == 0 and summary["dropped"] == 0 and summary["bursts"]["rgb"] >= 1
    library = _library_accuracy([10.0, 10.0])
    assert abs(summary["accuracy"] - library) < 3 * math.sqrt(library * (1 - library) / N) + 0.02, (summary, library)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("grcc") is None, reason="grcc not on PATH")
def test_three_processes_over_ofdm_two_devices_and_a_server(tmp_path):
    """rgbd_device_ofdm_zmq.py twice (each device with its own OFDM transmitter) and rgbd_server_ofdm_zmq.py
    (an OFDM receiver per device), joined by ZMQ without tags: the processes hardware/usrp_rgbd_*.grc run on
    radios. The air is clean here, so the record matches the library's noiseless accuracy."""
    record = _three_processes(tmp_path, "rgbd_device_ofdm_zmq", "rgbd_server_ofdm_zmq", lambda modality: {})
    assert record["samples"] == N and record["channel"] == "ofdm-zmq" and record["fallbacks"] == 0
    library = _library_accuracy([60.0, 60.0])
    assert abs(record["accuracy"] - library) < 3 * math.sqrt(library * (1 - library) / N) + 0.02, (record, library)
