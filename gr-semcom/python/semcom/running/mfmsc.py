#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The MFMSC flowgraphs headless: one task, or a mixed stream of every task; symbol-level or over OFDM."""

from __future__ import annotations

from .grc import MFMSC_GRC, MFMSC_OFDM_GRC, MFMSC_TASK_GRC, compiled_top_block
from .run import finish, run_until_done, run_until_quiet


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


def make_mfmsc_ofdm(bundle, tasks="all", snr_db=20.0, num_instances=50, out_path="", max_batch=64, fft_len=64,
                    cp_len=16, threshold=0.45, grc_path=None):
    """Build (not start) flowgraphs/mfmsc_ofdm.grc."""
    cls = compiled_top_block(grc_path, MFMSC_OFDM_GRC)
    return cls(bundle=str(bundle), tasks=str(tasks), snr_db=float(snr_db), num_instances=int(num_instances),
               out_path=str(out_path or ""), max_batch=int(max_batch), fft_len=int(fft_len), cp_len=int(cp_len),
               threshold=float(threshold))


def run_mfmsc_ofdm(bundle, tasks="all", snr_db=20.0, num_instances=50, out_path="", max_batch=64, timeout_s=600.0,
                   idle_s=5.0, grc_path=None) -> dict:
    """Run the MFMSC flowgraph over OFDM; as :func:`run_mfmsc`, and it also stops ``idle_s`` seconds after the
    last scored instance once the source is done (instances whose bursts were lost never come): ``count``
    then falls short of the instances sent, and ``lost`` says by how many."""
    tb = make_mfmsc_ofdm(bundle, tasks, snr_db, num_instances, out_path, max_batch, grc_path=grc_path)
    expected = tb.source.num_instances()
    tb.sink.set_num_instances(expected)
    elapsed = run_until_quiet(tb, tb.sink.count, expected, tb.source.finished, timeout_s, idle_s)
    summary = finish(tb.sink, elapsed)
    summary["instances_per_s"] = summary.pop("images_per_s")
    summary.update(lost=expected - summary["count"], bursts=tb.otx.bursts(), dropped_tx=tb.tx.dropped(),
                   dropped_rx=tb.rx.dropped(), records=tb.sink.records() if summary["count"] else [])
    return summary
