#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Sample-level Sionna TDL multipath channel, for complex baseband streams (e.g. OFDM)."""

from __future__ import annotations

import numpy as np
from gnuradio import gr

from .base.limits import MAX_SYMBOL_POWER
from .base.log import OnceLog


class tdl_channel(gr.sync_block):
    """3GPP TDL-A..E multipath fading on complex baseband samples.

    Wraps ``semcom_core.channels.TDLSampleChannel``: Sionna's TDL model turned
    into discrete taps at ``sample_rate`` and convolved with the stream, which
    is continuous across ``work()`` calls. The taps are redrawn every
    ``block_len`` samples (0: one static channel for the whole run); with
    ``speed > 0`` they also fade within a block (Doppler). The average power
    gain is 1. The output is delayed by 6 samples (the sinc precursors of the
    taps); tags pass through unchanged at their input offsets. No noise is
    added: put a noise source after this block.

    Args:
        model: ``"A"`` .. ``"E"``.
        delay_spread_ns: RMS delay spread in nanoseconds.
        sample_rate: sample rate of the stream in Hz.
        carrier_freq: carrier frequency in Hz (Doppler).
        speed: receiver speed in m/s.
        block_len: samples per channel realisation, 0 for a static channel.
        seed: seed of the channel's random generator.

    Bad arguments raise ``ValueError`` here, in the constructor. Non-finite
    input samples, and samples of implausible power (above
    ``base.limits.MAX_SYMBOL_POWER`` times unit power), are replaced by zeros
    before the channel (so they cannot spread) and counted (``bad_samples()``,
    ``drop_reasons()``); if the channel itself fails, the affected output is
    zeros and the failure is counted (``failures()``).
    """

    def __init__(self, model="A", delay_spread_ns=100.0, sample_rate=1e6, carrier_freq=2.4e9,
                 speed=0.0, block_len=4096, seed=0):
        gr.sync_block.__init__(self, name="semcom_tdl_channel", in_sig=[np.complex64], out_sig=[np.complex64])
        from semcom_core.channels import TDLSampleChannel

        try:
            delay_spread = float(delay_spread_ns) * 1e-9
        except (TypeError, ValueError):
            raise ValueError(f"delay_spread_ns must be a number, got {delay_spread_ns!r}") from None
        self._channel = TDLSampleChannel(
            model=str(model), delay_spread=delay_spread, sample_rate=sample_rate,
            carrier_frequency=carrier_freq, speed=speed, block_len=block_len, seed=seed)
        self._log = OnceLog(f"semcom_tdl_channel{self.unique_id()}")

    def channel(self):
        """The ``TDLSampleChannel`` this block applies."""
        return self._channel

    def bad_samples(self) -> int:
        """Non-finite input samples replaced by zeros."""
        return self._log.counts.get("non-finite input samples", 0)

    def drop_reasons(self) -> dict:
        """Samples replaced by zeros (non-finite, implausible) and failures, by reason."""
        return dict(self._log.counts)

    def failures(self) -> int:
        """Samples output as zeros because the channel failed."""
        return self._log.counts.get("channel failure", 0)

    def work(self, input_items, output_items):
        inp, out = input_items[0], output_items[0]
        n = min(len(inp), len(out))
        try:
            x = inp[:n]
            power = np.abs(x.astype(np.complex128)) ** 2
            bad = ~np.isfinite(power)
            huge = np.isfinite(power) & (power > MAX_SYMBOL_POWER)
            nbad, nhuge = int(np.count_nonzero(bad)), int(np.count_nonzero(huge))
            if nbad:
                self._log.problem("non-finite input samples", f"{nbad} in a call of {n}, replaced by zeros", nbad)
            if nhuge:
                self._log.problem("implausible input samples", f"{nhuge} above {MAX_SYMBOL_POWER:g} times unit "
                                  f"power in a call of {n}, replaced by zeros", nhuge)
            if nbad or nhuge:
                x = np.where(bad | huge, np.complex64(0), x)
            out[:n] = self._channel.apply(x)
        except Exception as err:  # noqa: BLE001 - never raise inside work()
            self._log.problem("channel failure", repr(err), n)
            out[:n] = 0
        return n
