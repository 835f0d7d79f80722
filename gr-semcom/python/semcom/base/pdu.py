#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""PDUs (metadata dict + vector) and the PMT values of tags."""

from __future__ import annotations

import struct

import numpy as np
import pmt

from .limits import NOISE_VAR_RANGE


# PMT's serialised form of an f32vector (pmt_serialize.cc): 0x0a (uniform vector), 0x08 (float32), the length
# as a big-endian uint32, one pad byte, then the values big-endian. Building and reading image PDUs through it
# takes 8-12 us instead of 50-90 us element by element (init_f32vector, f32vector_elements): per image that is
# most of what the PDU hops of a flowgraph cost, with the GIL held.
_F32_PREFIX = b"\x0a\x08"
_F32_PAD = b"\x01\x00"


def f32vector(values: np.ndarray):
    """A PMT f32vector of ``values`` (flattened)."""
    flat = np.ascontiguousarray(values, dtype=">f4").reshape(-1)
    return pmt.deserialize_str(_F32_PREFIX + struct.pack(">I", flat.size) + _F32_PAD + flat.tobytes())


def f32_values(vector) -> np.ndarray:
    """The float32 values of a PMT f32vector."""
    raw = pmt.serialize_str(vector)
    count = pmt.length(vector)
    return np.frombuffer(raw, dtype=">f4", count=count, offset=len(raw) - 4 * count).astype(np.float32)


def _value(p):
    if pmt.is_bool(p):
        return pmt.to_bool(p)
    if pmt.is_integer(p):
        return pmt.to_long(p)
    if pmt.is_real(p):
        return pmt.to_double(p)
    if pmt.is_symbol(p):
        return pmt.symbol_to_string(p)
    return pmt.to_python(p)


def meta_dict(d) -> dict:
    """A PMT dict as a Python dict (scalars converted directly, the rest by ``pmt.to_python``)."""
    out = {}
    items = pmt.dict_items(d)
    while not pmt.is_null(items):
        pair, items = pmt.car(items), pmt.cdr(items)
        key = pmt.car(pair)
        out[pmt.symbol_to_string(key) if pmt.is_symbol(key) else pmt.to_python(key)] = _value(pmt.cdr(pair))
    return out


def meta_pmt(meta: dict):
    """A Python dict of metadata as a PMT dict."""
    out = pmt.make_dict()
    for key, value in meta.items():
        out = pmt.dict_add(out, pmt.intern(str(key)), to_tag_value(value))
    return out


def make_pdu(meta: dict, values: np.ndarray):
    """``cons(meta dict, f32vector)``."""
    return pmt.cons(meta_pmt(meta), f32vector(values))


def parse_pdu(pdu) -> tuple[dict, np.ndarray]:
    """(meta dict, float32 payload) of an image PDU; ``ValueError`` when it is not one."""
    if not pmt.is_pair(pdu):
        raise ValueError("message is not a PDU (pair of metadata and vector)")
    car, cdr = pmt.car(pdu), pmt.cdr(pdu)
    if pmt.is_null(car):
        meta = {}
    elif pmt.is_dict(car):
        meta = meta_dict(car)
    else:
        raise ValueError("PDU metadata is not a dictionary")
    if pmt.is_f32vector(cdr):
        data = f32_values(cdr)
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
