"""The physical-layer header that precedes the semantic symbols of an over-the-air frame.

Where :mod:`.framing` writes a header in front of the payload symbols for symbol-level links, a radio
link puts its header on dedicated OFDM symbols (:mod:`.ofdm`), BPSK-modulated, and carries a little
more: which transceiver made the frame and its sequence number. Fields (140 bits, most significant
bit first)::

    version (4) | bundle_id (16) | seq (16) | length (16) | q (8) | end (16) | z_min (32) | z_max (32)

- ``bundle_id``: :func:`bundle_id` of the transmitting bundle (0 for "unspecified"), so a receiver
  drops frames made by another model instead of decoding garbage;
- ``seq``: the frame's sequence number (the image index when the transmitter tags one), modulo 2^16;
- ``length``: payload length in complex symbols;
- ``q``, ``end``, ``z_min``, ``z_max``: the :class:`~.sideinfo.SideInfo` of the payload.

Protection: a CRC-16 (CCITT, :func:`binascii.crc_hqx`) over the fields, 156 bits in all, whitened by a
fixed pseudo-random sequence (so that no header OFDM symbol has a high peak), BPSK (bit 0 -> +1), sent
twice: ``PHY_HEADER_SYMBOLS = 312``. The receiver adds the two copies (3 dB), decides, de-whitens and
checks the CRC. No convolutional code here: the receiver must answer the header/payload demultiplexer
for every frame before it goes on, and a Viterbi decoder call (about 20 ms) would cap the link at some
fifty frames a second. Symbols after the two copies (padding up to whole OFDM symbols) are a fixed
pseudo-random BPSK sequence, known to the receiver.
"""

from __future__ import annotations

import binascii
import hashlib
import json
from dataclasses import dataclass

import numpy as np

from .framing import _bits_uint, _check_side, _uint_bits
from .sideinfo import SIDE_FIELDS, FrameError, SideInfo, side_columns, sides_from_columns

__all__ = ["PHY_FORMAT_VERSION", "PHY_HEADER_BITS", "PHY_HEADER_SYMBOLS", "PhyHeader", "bundle_id",
           "decode_phy_headers", "encode_phy_headers"]

PHY_FORMAT_VERSION = 1
_FIELDS = (("version", 4), ("bundle_id", 16), ("seq", 16), ("length", 16), *SIDE_FIELDS)
PHY_HEADER_BITS = sum(width for _, width in _FIELDS)          # 140
_CRC_BITS = 16
_SENT_BITS = PHY_HEADER_BITS + _CRC_BITS                      # 156
#: BPSK symbols of one encoded header (two copies).
PHY_HEADER_SYMBOLS = 2 * _SENT_BITS                           # 312
_MAX16 = (1 << 16) - 1
_PN = np.random.default_rng(0xB95C).integers(0, 2, 1 << 16).astype(np.uint8)   # whitening and padding


def _crc_bits(bits: np.ndarray) -> np.ndarray:
    """CRC-16/CCITT of each row of ``bits`` [B, PHY_HEADER_BITS] (zero-padded to whole bytes) -> [B, 16]."""
    packed = np.packbits(bits, axis=1)
    crcs = np.array([binascii.crc_hqx(row.tobytes(), 0xFFFF) for row in packed], dtype=np.uint64)
    return _uint_bits(crcs, _CRC_BITS)


def _padding(slots: int) -> np.ndarray:
    return (1.0 - 2.0 * _PN[_SENT_BITS: _SENT_BITS + slots]).astype(np.float32)


@dataclass(frozen=True)
class PhyHeader:
    bundle_id: int      # 0..65535, 0 = unspecified
    seq: int            # 0..65535
    length: int         # payload complex symbols, 0..65535
    side: SideInfo      # q, end, z_min, z_max of the payload

    def check(self) -> None:
        """Raise ``ValueError`` when a field does not fit the header."""
        for name in ("bundle_id", "seq", "length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= int(value) <= _MAX16:
                raise ValueError(f"{name}={value!r} does not fit the header's 16 bits (0..{_MAX16})")
        _check_side(self.side)


def bundle_id(card: dict) -> int:
    """A 16-bit identifier of a bundle, from its card (method, architecture, k, q, dataset, ...).

    Two bundles whose cards differ get different ids with probability 1 - 2^-16; the value is never 0
    (0 means "unspecified" in the header)."""
    text = json.dumps(card, sort_keys=True, default=str).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:2], "big") % _MAX16 + 1


def encode_phy_headers(headers, slots: int = PHY_HEADER_SYMBOLS) -> np.ndarray:
    """BPSK symbols ``[B, slots]`` (float32, +-1) of a list of :class:`PhyHeader`: the two copies, then
    the known padding up to ``slots`` (>= ``PHY_HEADER_SYMBOLS``)."""
    headers = list(headers)
    for h in headers:
        h.check()
    if slots < PHY_HEADER_SYMBOLS:
        raise ValueError(f"a header needs {PHY_HEADER_SYMBOLS} symbols, got {slots} slots")
    out = np.tile(np.concatenate([np.zeros(PHY_HEADER_SYMBOLS, np.float32),
                                  _padding(slots - PHY_HEADER_SYMBOLS)]), (len(headers), 1))
    if not headers:
        return out
    cols = {
        "version": np.full(len(headers), PHY_FORMAT_VERSION, dtype=np.uint64),
        "bundle_id": np.array([int(h.bundle_id) for h in headers], dtype=np.uint64),
        "seq": np.array([int(h.seq) for h in headers], dtype=np.uint64),
        "length": np.array([int(h.length) for h in headers], dtype=np.uint64),
        **side_columns([h.side for h in headers]),
    }
    bits = np.concatenate([_uint_bits(cols[name], width) for name, width in _FIELDS], axis=1)
    sent = np.concatenate([bits, _crc_bits(bits)], axis=1) ^ _PN[None, :_SENT_BITS]
    bpsk = 1.0 - 2.0 * sent.astype(np.float32)
    out[:, :PHY_HEADER_SYMBOLS] = np.concatenate([bpsk, bpsk], axis=1)
    return out


def decode_phy_headers(symbols) -> list:
    """Decode equalised header symbols ``[B, >= PHY_HEADER_SYMBOLS]`` (complex; extra trailing symbols,
    such as padding, are ignored). Returns per row a :class:`PhyHeader` or a :class:`FrameError`
    (``header CRC failure``, ``unknown frame version``, ``non-finite samples``)."""
    symbols = np.asarray(symbols)
    if symbols.ndim != 2 or symbols.shape[1] < PHY_HEADER_SYMBOLS:
        raise ValueError(f"header symbols must have shape [B, >= {PHY_HEADER_SYMBOLS}], got {symbols.shape}")
    rows = symbols[:, :PHY_HEADER_SYMBOLS]
    finite = np.isfinite(rows).all(axis=1)
    out: list = [FrameError("non-finite samples", "NaN or inf in the header")] * len(rows)
    todo = np.flatnonzero(finite)
    if not todo.size:
        return out
    soft = np.real(rows[todo, :_SENT_BITS]) + np.real(rows[todo, _SENT_BITS:])     # the two copies
    sent = (soft < 0).astype(np.uint8) ^ _PN[None, :_SENT_BITS]
    bits = sent[:, :PHY_HEADER_BITS]
    ok = (_crc_bits(bits) == sent[:, PHY_HEADER_BITS:]).all(axis=1)
    fields, pos = {}, 0
    for name, width in _FIELDS:
        fields[name] = _bits_uint(bits[:, pos: pos + width])
        pos += width
    sides = sides_from_columns(fields)
    for j, i in enumerate(todo):
        if not ok[j]:
            out[i] = FrameError("header CRC failure", "the PHY header did not decode")
        elif int(fields["version"][j]) != PHY_FORMAT_VERSION:
            out[i] = FrameError("unknown frame version",
                                f"version {int(fields['version'][j])}, this receiver reads {PHY_FORMAT_VERSION}")
        else:
            out[i] = PhyHeader(bundle_id=int(fields["bundle_id"][j]), seq=int(fields["seq"][j]),
                               length=int(fields["length"][j]), side=sides[j])
    return out

