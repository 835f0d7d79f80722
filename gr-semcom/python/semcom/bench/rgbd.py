#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""``semcom bench rgbd``: the multi-device RGB-D flowgraph against the library's evaluation of the same
bundle, samples and SNRs: accuracy (with the agreement in standard errors) and samples per second."""

from __future__ import annotations

import math
import time

from ..base.bundles import resolve_bundle_path
from ..running.rgbd import run_rgbd


def _library(bundle_path, snr_db, num_samples, batch=64):
    """(accuracy, samples/s) of the library's system on the first test samples: the devices' encoders, the
    channels and the server, in batches of 64 as the flowgraph's blocks take them."""
    import torch

    from semcom_core.bundles.multimodal import load_multimodal_bundle
    from semcom_core.runs.multimodal import load_data

    system, card = load_multimodal_bundle(bundle_path)
    xs, labels = load_data(card["config"], "test").batch(range(num_samples))
    torch.manual_seed(0)
    correct = 0
    t0 = time.perf_counter()
    with torch.no_grad():
        for lo in range(0, len(labels), batch):
            part = [x[lo: lo + batch] for x in xs]
            correct += int((system(part, snr_db).argmax(1) == labels[lo: lo + batch]).sum())
    return correct / len(labels), len(labels) / (time.perf_counter() - t0), card


def bench_rgbd(bundle="bundles/rgbd-proposed-snr10", snrs=(0.0, 10.0, 20.0), num_samples=500,
               out_dir="results/rgbd-flowgraph", timeout_ms=2000.0) -> list[dict]:
    """Run the flowgraph and the library at each SNR (both devices at it); write ``records.jsonl`` and
    ``results.md`` into ``out_dir``; return the rows."""
    from semcom_core.records import make_record, replace_records

    bundle = resolve_bundle_path(bundle)
    rows, records = [], []
    for snr in snrs:
        fg = run_rgbd(bundle, snr_db=float(snr), num_samples=num_samples, timeout_ms=timeout_ms)
        lib_acc, lib_rate, card = _library(bundle, float(snr), fg["classified"])
        n = fg["classified"]
        stderr = math.sqrt(max(lib_acc * (1 - lib_acc), 1e-12) / n)
        rows.append({"snr_db": float(snr), "samples": n, "flowgraph": fg["accuracy"], "library": lib_acc,
                     "difference_in_se": (fg["accuracy"] - lib_acc) / stderr,
                     "flowgraph_per_s": fg["samples_per_s"], "library_per_s": lib_rate,
                     "fallbacks": fg["fallbacks"], "complete": fg["complete"]})
        for source, acc in (("flowgraph", fg["accuracy"]), ("eval", lib_acc)):
            records.append(make_record(str(card["method"]), str(card["dataset"]["name"]), "awgn", float(snr),
                                       float("nan"), {"accuracy": acc}, samples=n, seed=0, source=source,
                                       bundle=str(bundle)))
    replace_records(out_dir, records, format_rgbd(rows, bundle))
    return rows


def format_rgbd(rows: list[dict], bundle: str = "") -> str:
    lines = [f"# RGB-D devices and server: flowgraph against the library ({bundle})", "",
             "Both devices at the SNR (AWGN), the first test samples; difference in standard errors of the "
             "library's accuracy; the library runs in batches of 64, as the blocks do. Command: `semcom bench rgbd`.", "",
             "| SNR (dB) | samples | flowgraph | library | difference (s.e.) | flowgraph samples/s | library samples/s |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['snr_db']:g} | {r['samples']} | {r['flowgraph']:.4f} | {r['library']:.4f} | "
                     f"{r['difference_in_se']:+.2f} | {r['flowgraph_per_s']:.0f} | {r['library_per_s']:.0f} |")
    return "\n".join(lines)
