#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""PDUs (metadata dict + vector) and the PMT values of tags."""

from __future__ import annotations


import numpy as np
import pmt

from .limits import NOISE_VAR_RANGE


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


def level_of(msg, bare: str) -> tuple[str, float]:
    """``(kind, value)`` of a message giving a channel level: a dict with ``snr_db`` or ``noise_var``, or a
    bare number, which is taken as ``bare`` (one of those two). ``ValueError`` when it holds neither."""
    if pmt.is_dict(msg):
        d = pmt.to_python(msg)
        kind = next((key for key in ("snr_db", "noise_var") if key in d), None)
        if kind is None:
            raise ValueError("dict without snr_db or noise_var")
        value = d[kind]
    elif pmt.is_number(msg) and not pmt.is_complex(msg):
        kind, value = bare, pmt.to_double(msg) if pmt.is_real(msg) else pmt.to_long(msg)
    else:
        raise ValueError("neither a number nor a dict")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{kind} {value!r} is not a number")
    return kind, float(value)


def checked_noise_var(value) -> float:
    """``value`` as a noise variance within :data:`NOISE_VAR_RANGE`; ``ValueError`` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"noise variance {value!r} is not a number")
    try:
        nv = float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"noise variance {value!r} is not a number") from err
    if not NOISE_VAR_RANGE[0] <= nv <= NOISE_VAR_RANGE[1]:
        raise ValueError(f"noise variance must be within {NOISE_VAR_RANGE[0]:g} .. {NOISE_VAR_RANGE[1]:g} "
                         f"(SNR -60 .. 120 dB), got {value!r}")
    return nv


def register_ports(block, inputs: dict | None = None, outputs=()) -> None:
    """Register a block's message ports: ``inputs`` maps port names to handlers, ``outputs`` names ports.

    A handler must be a method of ``block`` itself: GNU Radio's Python gateway calls it by its name on the
    block."""
    for name, handler in (inputs or {}).items():
        if getattr(handler, "__self__", None) is not block:
            raise TypeError(f"the handler of port {name!r} must be a method of the block")
        block.message_port_register_in(pmt.intern(name))
        block.set_msg_handler(pmt.intern(name), handler)
    for name in outputs:
        block.message_port_register_out(pmt.intern(name))
