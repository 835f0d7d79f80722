#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The MFMSC flowgraphs headless: one task, or a mixed stream of every task."""

from __future__ import annotations

from .grc import MFMSC_GRC, MFMSC_TASK_GRC, compiled_top_block
from .run import finish, run_until_done


def make_mfmsc(bundle, tasks="all", snr_db=10.0, channel="awgn", num_instances=50, out_path="", max_batch=64,
               grc_path=None):
    """Build (not start) flowgraphs/mfmsc_loopback.grc (``tasks`` "all" or several) or mfmsc_task.grc (one
    task), or ``grc_path``."""
    name = MFMSC_TASK_GRC if "," not in str(tasks) and str(tasks).strip() not in ("", "all") else MFMSC_GRC
    cls = compiled_top_block(grc_path, name)
    return cls(bundle=str(bundle), tasks=str(tasks), snr_db=float(snr_db), channel=str(channel),
               num_instances=int(num_instances), out_path=str(out_path or ""), max_batch=int(max_batch))


def run_mfmsc(bundle, tasks="all", snr_db=10.0, channel="awgn", num_instances=50, out_path="", max_batch=64,
              timeout_s=600.0, grc_path=None) -> dict:
    """Run an MFMSC flowgraph until every instance is scored (or ``timeout_s``); returns the task metrics
    sink's summary with ``complete``, ``elapsed_s``, ``instances_per_s``, the drop counts and ``records``."""
    tb = make_mfmsc(bundle, tasks, snr_db, channel, num_instances, out_path, max_batch, grc_path)
    tb.sink.set_num_instances(tb.source.num_instances())
    elapsed = run_until_done(tb, [tb.sink], timeout_s, None)
    summary = finish(tb.sink, elapsed)
    summary["instances_per_s"] = summary.pop("images_per_s")
    summary.update(dropped_tx=tb.tx.dropped(), dropped_rx=tb.rx.dropped(),
                   records=tb.sink.records() if summary["count"] else [])
    return summary
