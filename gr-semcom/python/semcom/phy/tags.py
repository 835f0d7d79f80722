#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The tags GNU Radio's OFDM channel estimator and equaliser pass along with a frame, and lenient readers
of tag values (the last value of a key, or a default)."""

from __future__ import annotations

CHAN_TAPS_KEY = "ofdm_sync_chan_taps"
CARR_OFFSET_KEY = "ofdm_sync_carr_offset"


def tag_int(values, default):
    try:
        return int(values[-1]) if values else default
    except (TypeError, ValueError):
        return default


def tag_float(values, default):
    try:
        return float(values[-1]) if values else default
    except (TypeError, ValueError):
        return default
