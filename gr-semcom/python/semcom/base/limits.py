#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Physical limits of what enters a block: a value beyond them is not a signal but a fault, dropped with
its reason."""

from __future__ import annotations

import numpy as np

#: SNRs a block accepts (dB): no radio link works outside them, and the noise would swamp, or vanish below,
#: float32's resolution.
SNR_DB_RANGE = (-60.0, 120.0)
#: The noise variances of those SNRs (unit signal power).
NOISE_VAR_RANGE = (10 ** (-SNR_DB_RANGE[1] / 10), 10 ** (-SNR_DB_RANGE[0] / 10))
#: Mean power above which a frame of unit-power symbols is not a signal: 40 dB above unit power.
MAX_SYMBOL_POWER = 1e4


def mean_power(samples) -> float:
    """Mean power of complex samples (0 for none; NaN or inf when they hold NaN or inf)."""
    samples = np.asarray(samples)
    return float(np.mean(np.abs(samples.astype(np.complex128)) ** 2)) if samples.size else 0.0
