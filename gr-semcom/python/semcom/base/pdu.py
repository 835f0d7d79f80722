#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""PDUs (metadata dict + vector) and the PMT values of tags."""

from __future__ import annotations

import numpy as np
import pmt


def make_pdu(meta: dict, values: np.ndarray):
    """``cons(meta dict, f32vector)``."""
    flat = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
    return pmt.cons(pmt.to_pmt(meta), pmt.init_f32vector(flat.size, flat.tolist()))


def parse_pdu(pdu) -> tuple[dict, np.ndarray]:
    """(meta dict, float32 payload) of an image PDU; ``ValueError`` when it is not one."""
    if not pmt.is_pair(pdu):
        raise ValueError("message is not a PDU (pair of metadata and vector)")
    car, cdr = pmt.car(pdu), pmt.cdr(pdu)
    if pmt.is_null(car):
        meta = {}
    elif pmt.is_dict(car):
        meta = pmt.to_python(car)
        if not isinstance(meta, dict):
            raise ValueError("PDU metadata is not a dictionary")
    else:
        raise ValueError("PDU metadata is not a dictionary")
    if pmt.is_f32vector(cdr):
        data = np.asarray(pmt.f32vector_elements(cdr), dtype=np.float32)
    elif pmt.is_f64vector(cdr):
        data = np.asarray(pmt.f64vector_elements(cdr), dtype=np.float32)
    elif pmt.is_u8vector(cdr):
        data = np.asarray(pmt.u8vector_elements(cdr), dtype=np.float32) / 255.0
    else:
        raise ValueError("PDU payload is not an f32vector")
    return meta, data


def scalar(value):
    """A plain Python int/float/str/bool for metadata values (numpy scalars included)."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def to_tag_value(value):
    """PMT for a tag value: ints as longs, reals as doubles, the rest via to_pmt."""
    value = scalar(value)
    if isinstance(value, bool):
        return pmt.from_bool(value)
    if isinstance(value, int):
        return pmt.from_long(value)
    if isinstance(value, float):
        return pmt.from_double(value)
    return pmt.to_pmt(value)
