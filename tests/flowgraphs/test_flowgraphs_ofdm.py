"""The OFDM flowgraphs: the in-process loopback with channel impairments, and the process-to-process
links over ZMQ (the simulated twins of the USRP flowgraphs in hardware/) agree with semcom_core."""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import pytest

pytest.importorskip("gnuradio.gr", reason="GNU Radio is not importable by this Python")

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "bundles" / "a-mijscc-fmnist-8bit"
N_IMAGES = 16

from gnuradio.semcom import running   # tests/flowgraphs/conftest.py: installed, else the source tree
from gnuradio.semcom.bench.mijscc import mijscc_reference

pytestmark = pytest.mark.skipif(shutil.which("grcc") is None, reason="grcc (GNU Radio Companion compiler) not on PATH")


@pytest.fixture(scope="module")
def scripts(tmp_path_factory) -> dict:
    """The ZMQ flowgraphs compiled once: {name: generated script}."""
    out = tmp_path_factory.mktemp("ofdm_scripts")
    names = ("ofdm_tx_zmq", "ofdm_rx_zmq", "ofdm_air", "ofdm_loopback_zmq")
    return {name: running.compile_grc(REPO / "flowgraphs" / f"{name}.grc", out) for name in names}


def _stop_all(procs) -> None:
    for proc in procs:
        running.stop_script(proc, timeout_s=15)


def _report(log: Path) -> dict:
    reports = running.parse_reports(log.read_text())
    assert reports, f"no report in {log}:\n{log.read_text()[-3000:]}"
    return reports[-1]


def test_ofdm_loopback_headless_agrees_with_semcom_core(bundle):
    snr_db, cfo = 30.0, 0.05   # a twentieth of the subcarrier spacing
    s = running.run_ofdm_loopback(bundle, snr_db=snr_db, cfo=cfo, num_images=N_IMAGES, timeout_s=60)
    assert s["complete"] and s["stopped"] == "done", s
    assert s["count"] == s["decoded"] == s["sent"] == N_IMAGES
    orx = s["ofdm"]["ofdm_rx"]
    assert orx["frames"] == N_IMAGES and orx["header_failures"] == 0 and orx["bad_samples"] == 0
    assert abs(orx["snr_db_mean"] - snr_db) < 1.5, orx          # the receiver's SNR estimate
    assert s["record"]["channel"] == "ofdm-awgn" and s["record"]["snr_db"] == snr_db

    ref = mijscc_reference(bundle, N_IMAGES, snr_db)
    assert abs(s["psnr"] - ref["psnr"]) < 1.0, (s["psnr"], ref)
    assert s["ofdm"]["tx"]["payload_symbols_per_image"] == ref["payload_symbols"]


@pytest.mark.slow
def test_two_process_zmq_link_agrees_with_semcom_core(bundle, scripts, tmp_path):
    """ofdm_rx_zmq.py and ofdm_tx_zmq.py in two processes on a free TCP port. The ZMQ link adds no
    noise, so the reference is semcom_core at the SNR the OFDM receiver measured (its ceiling)."""
    address = f"tcp://127.0.0.1:{running.free_tcp_port()}"
    records, mask_snr = tmp_path / "records.jsonl", 30.0
    rx = running.start_script(scripts["ofdm_rx_zmq"], running.script_options(
        bundle=bundle, num_images=N_IMAGES, address=address, out_path=records), tmp_path / "rx.log")
    tx = running.start_script(scripts["ofdm_tx_zmq"], running.script_options(
        bundle=bundle, num_images=N_IMAGES, address=address, mask_snr_db=mask_snr), tmp_path / "tx.log")
    try:
        record = running.wait_for_record(records, timeout_s=120, procs=[rx])
        assert record is not None, (tmp_path / "rx.log").read_text()[-3000:]
        rx.wait(timeout=30)   # the receiver stops by itself once its metrics sink has every image
    finally:
        _stop_all([rx, tx])
    assert record["samples"] == N_IMAGES and record["channel"] == "ofdm-zmq"
    rx_report, tx_report = _report(tmp_path / "rx.log"), _report(tmp_path / "tx.log")
    assert tx_report["tx"]["sent"] == tx_report["ofdm_tx"]["images"] == N_IMAGES
    assert 1 <= tx_report["ofdm_tx"]["bursts"] <= N_IMAGES      # the transmitter groups images into bursts
    assert rx_report["ofdm_rx"]["frames"] == rx_report["rx"]["decoded"] == N_IMAGES
    assert rx_report["ofdm_rx"]["header_failures"] == 0 and rx_report["metrics"]["unmatched_ref"] == 0

    ref = mijscc_reference(bundle, N_IMAGES, record["snr_db"], mask_snr_db=mask_snr)
    assert abs(record["psnr"] - ref["psnr"]) < 0.5, (record, ref)
    assert math.isclose(tx_report["tx"]["payload_symbols_per_image"], ref["payload_symbols"])


@pytest.mark.slow
def test_three_process_link_through_simulated_air(bundle, scripts, tmp_path):
    """tx -> ofdm_air.py (noise for 20 dB, carrier offset) -> rx: the receiver's SNR estimate and the
    PSNR match semcom_core's AWGN channel at 20 dB."""
    snr_db = 20.0
    a_in = f"tcp://127.0.0.1:{running.free_tcp_port()}"
    a_out = f"tcp://127.0.0.1:{running.free_tcp_port()}"
    records = tmp_path / "records.jsonl"
    procs = [running.start_script(scripts["ofdm_rx_zmq"], running.script_options(
        bundle=bundle, num_images=N_IMAGES, address=a_out, out_path=records, channel_label="ofdm-air"),
        tmp_path / "rx.log")]
    procs.append(running.start_script(scripts["ofdm_air"], running.script_options(
        in_address=a_in, out_address=a_out, snr_db=snr_db, amplitude=0.15, cfo=0.05, seed=3), tmp_path / "air.log"))
    procs.append(running.start_script(scripts["ofdm_tx_zmq"], running.script_options(
        bundle=bundle, num_images=N_IMAGES, address=a_in, mask_snr_db=snr_db, amplitude=0.15), tmp_path / "tx.log"))
    try:
        record = running.wait_for_record(records, timeout_s=120, procs=procs[:1])
        assert record is not None, (tmp_path / "rx.log").read_text()[-3000:]
        procs[0].wait(timeout=30)
    finally:
        _stop_all(procs)
    assert record["samples"] == N_IMAGES and record["channel"] == "ofdm-air"
    assert abs(record["snr_db"] - snr_db) < 1.0, record            # estimated by the OFDM receiver
    ref = mijscc_reference(bundle, N_IMAGES, snr_db)
    assert abs(record["psnr"] - ref["psnr"]) < 0.5, (record, ref)
    # the relaying process says what it relayed when it stops: the transmitter's bursts at amplitude 0.15
    summary = re.search(r"semcom air: (\d+) samples in all, (\d+) in bursts, burst power (-?[\d.]+) dB",
                        (tmp_path / "air.log").read_text())
    assert summary, (tmp_path / "air.log").read_text()[-2000:]
    assert int(summary[1]) >= int(summary[2]) > 0 and -30 < float(summary[3]) < 0


def test_ofdm_loopback_zmq_script_stops_by_itself_and_reports(bundle, scripts, tmp_path):
    """The simulated twin of hardware/usrp_loopback.grc run as its generated script: it stops once
    every image is in and prints its report."""
    proc = running.start_script(scripts["ofdm_loopback_zmq"], running.script_options(
        bundle=bundle, num_images=N_IMAGES, address=f"tcp://127.0.0.1:{running.free_tcp_port()}",
        idle_stop=5), tmp_path / "loop.log")
    try:
        assert proc.wait(timeout=120) == 0, (tmp_path / "loop.log").read_text()[-3000:]
    finally:
        _stop_all([proc])
    report = _report(tmp_path / "loop.log")
    assert report["flowgraph"] == "ofdm_loopback_zmq"
    assert report["tx"]["sent"] == report["ofdm_rx"]["frames"] == report["metrics"]["count"] == N_IMAGES
