#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""What the air does between the OFDM transmitter and receiver, as GNU Radio blocks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gnuradio import channels


@dataclass(frozen=True)
class Impairments:
    """The air between the OFDM transmitter and receiver.

    ``snr_db``: Es/N0 per data subcarrier (None: no noise); ``cfo``: carrier frequency offset as a
    fraction of the subcarrier spacing; ``epsilon``: receiver/transmitter sample-clock ratio (1: none);
    ``taps``: a fixed multipath impulse response (normalised to unit energy); ``tdl``: keyword arguments
    of ``tdl_channel`` (Sionna TDL at the sample level, e.g. ``{"model": "A", "delay_spread_ns": 100,
    "sample_rate": 1e6}``), applied before the noise; ``seed``: noise seed.
    """

    snr_db: float | None = None
    cfo: float = 0.0
    epsilon: float = 1.0
    taps: tuple = (1.0,)
    tdl: dict | None = None
    seed: int = 0

    def blocks(self, layout, amplitude: float = 1.0) -> list:
        """The GNU Radio blocks, in order, that apply these impairments."""
        chain = []
        if self.tdl:
            from ..tdl_channel import tdl_channel

            chain.append(tdl_channel(**self.tdl))
        taps = np.asarray(self.taps, dtype=np.complex64)
        taps = taps / np.sqrt(np.sum(np.abs(taps) ** 2))
        noise = 0.0 if self.snr_db is None else layout.noise_voltage(self.snr_db, amplitude)
        chain.append(channels.channel_model(noise, self.cfo / layout.fft_len, float(self.epsilon), taps.tolist(),
                                            float(self.seed or 1), False))
        return chain
