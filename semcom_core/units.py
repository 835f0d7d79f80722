"""Decibels and the SNR <-> noise variance conventions, in one place.

SNR is Es/N0 per complex symbol in dB with unit average symbol power, so the noise variance per complex
symbol is ``10^(-snr_db/10)``. The functions take a Python number, a numpy array or a torch tensor and
return the same kind.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["db_to_linear", "linear_to_db", "noise_var_from_snr_db", "snr_db_from_noise_var"]


def _is_tensor(x) -> bool:
    return type(x).__module__.startswith("torch")


def db_to_linear(db):
    """``10^(db/10)``."""
    if _is_tensor(db):
        return 10.0 ** (db / 10.0)
    if isinstance(db, np.ndarray):
        return np.power(10.0, db / 10.0)
    return 10.0 ** (float(db) / 10.0)


def linear_to_db(value):
    """``10 log10(value)``; ``value`` must be > 0 (a ratio of powers)."""
    if _is_tensor(value):
        return 10.0 * value.log10()
    if isinstance(value, np.ndarray):
        return 10.0 * np.log10(value)
    return 10.0 * math.log10(float(value))


def noise_var_from_snr_db(snr_db):
    """Noise variance per complex symbol at ``snr_db`` (unit signal power): ``10^(-snr_db/10)``."""
    return db_to_linear(-snr_db)


def snr_db_from_noise_var(noise_var):
    """SNR in dB for a noise variance per complex symbol (unit signal power): ``-10 log10(noise_var)``."""
    return -linear_to_db(noise_var)
