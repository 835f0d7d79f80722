#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""``semcom bench mfmsc``: the MFMSC flowgraph (every task in one mixed stream) against the library's
evaluation of the same bundle, instances and SNRs: each task's metric and instances per second."""

from __future__ import annotations

import math
import time

from ..base.bundles import resolve_bundle_path
from ..running.mfmsc import run_mfmsc


def _library(bundle_path, snr_db: float, num_instances: int, seeds=(0, 1), batch=64):
    """Per task ``{metric, values (one per noise seed), symbols_per_instance}`` of the library's evaluation
    on the first test instances, in batches of 64 as the blocks take them, and its instances per second
    (first seed)."""
    from semcom_core.bundles.mfmsc import load_mfmsc_bundle
    from semcom_core.data.mfmsc.tasks import build_tasks
    from semcom_core.metrics.tasks import METRIC_OF_KIND
    from semcom_core.runs.mfmsc import evaluate_task

    system, card, tokenizer = load_mfmsc_bundle(bundle_path)
    _, test, _ = build_tasks(card["config"], splits=("test",), tokenizer=tokenizer)
    for data in test.values():      # warm-up: first forward passes of every network
        evaluate_task(system, data.head(2), "awgn", snr_db)
    out, seconds, count = {}, 0.0, 0
    for name, data in test.items():
        part = data.head(num_instances)
        metric = METRIC_OF_KIND[data.spec.kind]
        values = []
        for seed in seeds:
            t0 = time.perf_counter()
            result = evaluate_task(system, part, "awgn", snr_db, batch_size=batch, seed=seed)
            if seed == seeds[0]:
                seconds += time.perf_counter() - t0
                count += len(part)
            values.append(result[metric])
        out[name] = {"metric": metric, "values": values, "symbols_per_instance": result["symbols_per_instance"],
                     "samples": len(part)}
    return out, count / seconds, card


def bench_mfmsc(bundle="bundles/mfmsc-embedded", snrs=(0.0, 10.0, 20.0), num_instances=200,
                out_dir="results/mfmsc-flowgraph") -> list[dict]:
    """Run the mixed-task flowgraph and the library at each SNR (AWGN); write ``records.jsonl`` and
    ``results.md`` into ``out_dir``; return the rows (one per task and SNR)."""
    from semcom_core.records import make_record, replace_records

    bundle = resolve_bundle_path(bundle)
    rows, records = [], []
    for snr in snrs:
        fg = run_mfmsc(bundle, "all", float(snr), num_instances=num_instances)
        library, lib_rate, card = _library(bundle, float(snr), num_instances)
        for task, got in fg["tasks"].items():
            lib = library[task]
            first, second = lib["values"]
            rows.append({"snr_db": float(snr), "task": task, "metric": got["metric"], "samples": got["count"],
                         "flowgraph": got["value"], "library": first, "library_other_noise": second,
                         "noise": abs(second - first), "difference": got["value"] - first,
                         "symbols_flowgraph": got["symbols_per_instance"], "symbols_library": lib["symbols_per_instance"],
                         "flowgraph_per_s": fg["instances_per_s"], "library_per_s": lib_rate, "complete": fg["complete"]})
            for source, value in (("flowgraph", got["value"]), ("eval", first)):
                records.append(make_record(str(card["method"]), "mfmsc-embedded", "awgn", float(snr), 0.0,
                                           {got["metric"]: value}, samples=got["count"], seed=0, source=source,
                                           task=task, metric=got["metric"], bundle=str(bundle)))
    replace_records(out_dir, records, format_mfmsc(rows, bundle))
    return rows


def _fmt(value: float, metric: str) -> str:
    return f"{value:.2f}" if metric == "psnr" else f"{value:.4f}"


def format_mfmsc(rows: list[dict], bundle: str = "") -> str:
    lines = [f"# MFMSC tasks: flowgraph against the library ({bundle})", "",
             "Every task in one mixed stream through `flowgraphs/mfmsc_loopback.grc` (AWGN), the first test "
             "instances of each task; the library evaluates the same instances in batches of 64 with two noise "
             "seeds: their difference is the noise of the metric itself, against which to read the flowgraph's. "
             "Command: `semcom bench mfmsc`.", "",
             "| SNR (dB) | task | metric | instances | flowgraph | library | library, other noise | "
             "flowgraph - library | symbols per instance |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        m = r["metric"]
        lines.append(f"| {r['snr_db']:g} | {r['task']} | {m} | {r['samples']} | {_fmt(r['flowgraph'], m)} | "
                     f"{_fmt(r['library'], m)} | {_fmt(r['library_other_noise'], m)} | {r['difference']:+.4f} | "
                     f"{r['symbols_flowgraph']:.1f} |")
    rates = {}
    for r in rows:
        rates.setdefault(r["snr_db"], (r["flowgraph_per_s"], r["library_per_s"]))
    lines += ["", "| SNR (dB) | flowgraph instances/s | library instances/s (batched) | ratio |", "|---|---|---|---|"]
    for snr, (fg, lib) in rates.items():
        lines.append(f"| {snr:g} | {fg:.0f} | {lib:.0f} | {fg / lib if lib and not math.isnan(lib) else float('nan'):.2f} |")
    return "\n".join(lines)
