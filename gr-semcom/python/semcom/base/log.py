#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Counting problems by reason, each logged once, and torch threads per block."""

from __future__ import annotations

import threading

from gnuradio import gr


class OnceLog:
    """Counts problems by reason and logs each reason only the first time."""

    def __init__(self, name: str):
        self.logger = gr.logger(name)
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def problem(self, reason: str, detail: str = "", n: int = 1) -> None:
        with self._lock:
            first = reason not in self.counts
            self.counts[reason] = self.counts.get(reason, 0) + n
        if first:
            msg = reason if not detail else f"{reason}: {detail}"
            self.logger.warn(f"{msg} (further cases are counted, not logged)")

    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())


def use_torch_threads(threads: int) -> None:
    """Set torch's intra-op threads for the calling thread (a block's scheduler thread).

    GNU Radio already runs every block in a thread of its own, so one torch
    thread per block avoids oversubscribing the cores. 0 leaves torch's default.
    """
    if threads and threads > 0:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(int(threads))
