#!/usr/bin/env python3
"""Soak run of the two-process OFDM link: ofdm_rx_zmq and ofdm_tx_zmq as separate processes over ZMQ
on the loopback address, sending the whole Fashion-MNIST test split (10000 images) once or more.

Prints the receiver's resident memory every few seconds and, at the end, the frames sent, decoded and
lost and the memory growth. Usage: .venv/bin/python scripts/soak_ofdm_zmq.py [--images 10000] [--rounds 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from gnuradio.semcom import running as fr

REPO = Path(__file__).resolve().parents[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default="bundles/a-mijscc-fmnist-8bit")
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between memory samples")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="semcom_soak_"))
    scripts = {n: fr.compile_grc(REPO / "flowgraphs" / f"{n}.grc", work) for n in ("ofdm_tx_zmq", "ofdm_rx_zmq")}
    address = f"tcp://127.0.0.1:{fr.free_tcp_port()}"
    records = work / "records.jsonl"
    rx = fr.start_script(scripts["ofdm_rx_zmq"], fr.script_options(
        bundle=args.bundle, num_images=args.images, address=address, out_path=records), work / "rx.log")
    time.sleep(3)
    tx = fr.start_script(scripts["ofdm_tx_zmq"], fr.script_options(
        bundle=args.bundle, num_images=args.images, address=address), work / "tx.log")
    t0, samples = time.time(), []
    try:
        while rx.poll() is None and not fr.read_records(records):
            samples.append((time.time() - t0, rss_mib(rx.pid), rss_mib(tx.pid) if tx.poll() is None else float("nan")))
            print(f"soak: {samples[-1][0]:6.0f} s  rx RSS {samples[-1][1]:7.1f} MiB  tx RSS {samples[-1][2]:7.1f} MiB",
                  flush=True)
            time.sleep(args.every)
    finally:
        rx.wait(timeout=60) if rx.poll() is None else None
        fr.stop_script(rx)
        fr.stop_script(tx)
    elapsed = time.time() - t0
    rx_report = (fr.parse_reports((work / "rx.log").read_text()) or [{}])[-1]
    tx_report = (fr.parse_reports((work / "tx.log").read_text()) or [{}])[-1]
    record = (fr.read_records(records) or [{}])[-1]
    steady = [s for s in samples if s[0] >= 20]
    growth = steady[-1][1] - steady[0][1] if len(steady) >= 2 else float("nan")
    print(f"soak: {elapsed:.0f} s, {args.images} images; tx sent {tx_report.get('tx', {}).get('sent')}; "
          f"rx frames {rx_report.get('ofdm_rx', {}).get('frames')}, header failures "
          f"{rx_report.get('ofdm_rx', {}).get('header_failures')}, decoded {rx_report.get('rx', {}).get('decoded')}; "
          f"PSNR {record.get('psnr')}; rx RSS {steady[0][1] if steady else float('nan'):.1f} -> "
          f"{steady[-1][1] if steady else float('nan'):.1f} MiB (growth {growth:+.1f} MiB after the first 20 s)")
    print(f"soak: logs in {work}")


if __name__ == "__main__":
    main()
