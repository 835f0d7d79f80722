#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Pass-through monitor of a complex sample stream: what a process that only relays samples reports."""

from __future__ import annotations

import sys
import time

import numpy as np
from gnuradio import gr


class air_monitor(gr.sync_block):
    """Copies complex samples unchanged and reports how many flow and at what power.

    Every ``interval_s`` seconds in which samples arrived it prints one line on stderr: samples so far,
    the rate over the interval and the mean power of the non-silent samples (bursts, not the gaps
    between them), and a summary line when the flowgraph stops, so a relaying process (``ofdm_air``)
    never runs silently. ``interval_s`` 0 prints only the summary. Non-finite samples pass through (the
    receiver counts them) and are counted here (``non_finite()``).

    Getters: ``samples()``, ``burst_samples()``, ``mean_power()`` (of the non-silent samples), ``non_finite()``.
    """

    SILENCE = 1e-6   # |x|^2 below this is a gap between bursts

    def __init__(self, label="air", interval_s=5.0):
        gr.sync_block.__init__(self, name="semcom_air_monitor", in_sig=[np.complex64], out_sig=[np.complex64])
        self.label = str(label)
        self.interval_s = max(0.0, float(interval_s))
        self._samples = self._burst = self._bad = 0
        self._power_sum = 0.0
        self._last_print, self._last_count = time.monotonic(), 0

    def samples(self) -> int:
        return self._samples

    def burst_samples(self) -> int:
        return self._burst

    def non_finite(self) -> int:
        return self._bad

    def mean_power(self) -> float:
        return self._power_sum / self._burst if self._burst else float("nan")

    def work(self, input_items, output_items):
        x = input_items[0]
        output_items[0][:] = x
        power = x.real.astype(np.float64) ** 2 + x.imag.astype(np.float64) ** 2
        finite = np.isfinite(power)
        self._bad += int(x.size - finite.sum())
        loud = finite & (power > self.SILENCE)
        self._burst += int(loud.sum())
        self._power_sum += float(power[loud].sum())
        self._samples += x.size
        now = time.monotonic()
        if self.interval_s and now - self._last_print >= self.interval_s and self._samples > self._last_count:
            rate = (self._samples - self._last_count) / (now - self._last_print)
            self._say(f"{self._samples} samples ({rate / 1e3:.1f} kS/s)")
            self._last_print, self._last_count = now, self._samples
        return x.size

    def _say(self, what: str) -> None:
        power = self.mean_power()
        level = f"burst power {10 * np.log10(power):.1f} dB" if power == power and power > 0 else "no burst yet"
        bad = f", {self._bad} non-finite" if self._bad else ""
        print(f"semcom {self.label}: {what}, {level}{bad}", file=sys.stderr, flush=True)

    def stop(self):
        self._say(f"{self._samples} samples in all, {self._burst} in bursts")
        return True
