#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Running a top block headless: start, wait for its metrics sinks (bounded), stop; progress lines."""

from __future__ import annotations

import sys
import time


def progress_printer(total: int, label: str):
    state = {"last": 0.0}

    def show(count: int, elapsed: float, final: bool = False) -> None:
        if not final and elapsed - state["last"] < 1.0:
            return
        state["last"] = elapsed
        rate = count / elapsed if elapsed > 0 else 0.0
        end = "\n" if final else "\r"
        print(f"{label}: {count}/{total} images, {elapsed:.1f} s, {rate:.0f} images/s", end=end,
              file=sys.stderr, flush=True)

    return show


def run_until_done(tb, sinks, timeout_s: float, show) -> float:
    """Start ``tb``, wait until every sink is ``done()`` or the deadline, stop it; returns the seconds waited.

    Progress shows the count of the slowest sink.
    """
    t0 = time.perf_counter()
    tb.start()
    try:
        deadline = t0 + float(timeout_s)
        for sink in sinks:
            while not sink.done():
                now = time.perf_counter()
                if now >= deadline:
                    break
                sink.wait_done(min(0.05, deadline - now))
                if show:
                    show(min(s.count() for s in sinks), time.perf_counter() - t0)
        return time.perf_counter() - t0
    finally:
        tb.stop()
        tb.wait()


def run_until_quiet(tb, count, total: int, sent_all, timeout_s: float, idle_s: float | None = None) -> float:
    """Start ``tb``; wait until ``count()`` reaches ``total``, the deadline, or (with ``idle_s``) ``idle_s``
    seconds without ``count()`` moving once ``sent_all()`` (what a link lost never comes); stop it. Returns
    the seconds waited."""
    t0 = time.perf_counter()
    tb.start()
    try:
        deadline = t0 + float(timeout_s)
        last, last_change = -1, t0
        while count() < total and time.perf_counter() < deadline:
            time.sleep(0.01)
            now, seen = time.perf_counter(), count()
            if seen != last:
                last, last_change = seen, now
            elif idle_s is not None and sent_all() and now - last_change > idle_s:
                break
        return time.perf_counter() - t0
    finally:
        tb.stop()
        tb.wait()


def finish(sink, elapsed: float) -> dict:
    summary = sink.summary()
    summary["complete"] = bool(sink.done())
    summary["elapsed_s"] = elapsed
    summary["images_per_s"] = summary["count"] / elapsed if elapsed > 0 else float("nan")
    return summary


def run_top_block(tb, sink, num_images: int, timeout_s: float = 600.0, progress=False, label="flowgraph") -> dict:
    """Start ``tb``, wait until ``sink.done()`` or the deadline, stop it; returns the sink's summary.

    The summary gains ``elapsed_s`` (start to done), ``images_per_s`` and
    ``complete`` (False when the deadline passed first).
    """
    show = progress_printer(num_images, label) if progress is True else progress or None
    elapsed = run_until_done(tb, [sink], timeout_s, show)
    summary = finish(sink, elapsed)
    if show:
        show(summary["count"], elapsed, final=True)
    return summary
