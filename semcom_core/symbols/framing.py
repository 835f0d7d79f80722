"""Frames of channel symbols that carry their own side information.

A frame is a fixed-length header followed by the payload symbols::

    [ header: HEADER_SYMBOLS QPSK symbols | payload: end complex symbols ]

The header carries a :class:`~semcom_core.symbols.sideinfo.SideInfo` (92 bits, most significant bit
first)::

    version (4) | q (8, 0 = analog) | end (16) | z_min (32, IEEE float32) | z_max (32, IEEE float32)

protected by Sionna's ``CRC16`` (16 bits) and a terminated rate-1/2, constraint-length-7
convolutional code (Sionna's ``ConvEncoder``; ``(92 + 16 + 6) * 2 = 228`` coded bits), mapped to Gray
QPSK with unit average power: ``HEADER_SYMBOLS = 114``. The floats travel bit-exactly, so the receiver
dequantises with exactly the transmitter's range.

The receiver decodes the header with a soft-decision Viterbi decoder (its path metric is linear in the
LLRs, so no noise estimate is needed), checks the CRC, the version and that the payload length equals
``end``; any failure raises :class:`FrameError`. :func:`parse_frames` decodes the headers of many
frames in one Sionna call, which is much faster than one call per frame.

Pure numpy/torch/Sionna: no GNU Radio here.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import torch

from .sideinfo import SIDE_FIELDS, FrameError, SideInfo, side_columns, sides_from_columns

__all__ = [
    "FORMAT_VERSION",
    "FrameError",
    "HEADER_BITS",
    "HEADER_SYMBOLS",
    "frame_symbols",
    "frame_symbols_batch",
    "parse_frame",
    "parse_frames",
]

#: Version of the header layout written by :func:`frame_symbols`.
FORMAT_VERSION = 1

_FIELDS = (("version", 4), *SIDE_FIELDS)
#: Information bits of the header (before CRC and channel coding).
HEADER_BITS = sum(width for _, width in _FIELDS)          # 92
_CRC_BITS = 16
_CONV_K = 7                                               # constraint length: K - 1 tail bits
_CODED_BITS = 2 * (HEADER_BITS + _CRC_BITS + _CONV_K - 1)  # 228
#: Header length in complex (QPSK) symbols.
HEADER_SYMBOLS = _CODED_BITS // 2                         # 114

_SQRT_HALF = 1.0 / math.sqrt(2.0)


# ---------------------------------------------------------------------------
# Sionna components, built once per process (CPU, float32)
# ---------------------------------------------------------------------------

class _Coder:
    """CRC-16 + terminated rate-1/2 K=7 convolutional code for ``k`` information bits."""

    def __init__(self, k: int):
        from sionna.phy.fec.conv import ConvEncoder, ViterbiDecoder
        from sionna.phy.fec.crc import CRCDecoder, CRCEncoder

        self.k = k
        self.coded_bits = 2 * (k + _CRC_BITS + _CONV_K - 1)
        self.crc_enc = CRCEncoder("CRC16", k=k, device="cpu")
        self.crc_dec = CRCDecoder(self.crc_enc, device="cpu")
        self.conv_enc = ConvEncoder(rate=1 / 2, constraint_length=_CONV_K, terminate=True, device="cpu")
        self.viterbi = ViterbiDecoder(encoder=self.conv_enc, method="soft_llr", device="cpu")
        self.lock = threading.Lock()   # the modules build lazily on the first call; keep calls serial

    def encode(self, bits: np.ndarray) -> np.ndarray:
        """Info bits ``[B, k]`` (0/1) -> coded bits ``[B, coded_bits]`` float32."""
        with self.lock, torch.no_grad():
            c = self.conv_enc(self.crc_enc(torch.from_numpy(bits.astype(np.float32))))
        return c.cpu().numpy()

    def decode(self, llr: np.ndarray):
        """LLRs ``[B, coded_bits]`` (positive: bit 1) -> (info bits [B, k] uint8, crc ok [B])."""
        with self.lock, torch.no_grad():
            u = self.viterbi(torch.from_numpy(llr.astype(np.float32)))
            bits, ok = self.crc_dec(u)
        return bits.cpu().numpy().round().astype(np.uint8), ok.cpu().numpy().reshape(-1).astype(bool)


_coders: dict = {}
_coder_lock = threading.Lock()


def _get_coder(k: int = HEADER_BITS) -> _Coder:
    """The process-wide coder for ``k`` information bits (built on first use)."""
    with _coder_lock:
        if k not in _coders:
            _coders[k] = _Coder(k)
        return _coders[k]


# ---------------------------------------------------------------------------
# Bits <-> fields, QPSK
# ---------------------------------------------------------------------------

def _uint_bits(values: np.ndarray, width: int) -> np.ndarray:
    """Unsigned integers ``[B]`` -> bits ``[B, width]``, most significant first."""
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64)
    return ((values.astype(np.uint64)[:, None] >> shifts[None, :]) & 1).astype(np.uint8)


def _bits_uint(bits: np.ndarray) -> np.ndarray:
    width = bits.shape[1]
    weights = (np.uint64(1) << np.arange(width - 1, -1, -1, dtype=np.uint64))
    return (bits.astype(np.uint64) * weights[None, :]).sum(axis=1)


def _check_side(side: SideInfo) -> None:
    if not isinstance(side, SideInfo):
        raise ValueError(f"side information must be a SideInfo, got {type(side).__name__}")
    side.check_fits_header()


def _header_bits(sides) -> np.ndarray:
    cols = {"version": np.full(len(sides), FORMAT_VERSION, dtype=np.uint64), **side_columns(sides)}
    return np.concatenate([_uint_bits(cols[name], width) for name, width in _FIELDS], axis=1)


def _fields(bits: np.ndarray) -> dict:
    out, pos = {}, 0
    for name, width in _FIELDS:
        out[name] = _bits_uint(bits[:, pos: pos + width])
        pos += width
    return out


def _qpsk(coded: np.ndarray) -> np.ndarray:
    """Coded bits ``[B, 2m]`` -> Gray QPSK ``[B, m]`` complex64, unit power (bit 0 -> +1/sqrt 2)."""
    signs = 1.0 - 2.0 * coded.astype(np.float32)
    return ((signs[:, 0::2] + 1j * signs[:, 1::2]) * _SQRT_HALF).astype(np.complex64)


def _llr(symbols: np.ndarray) -> np.ndarray:
    """QPSK ``[B, m]`` -> LLRs ``[B, 2m]`` with Sionna's sign (positive: bit 1). The Viterbi path
    metric is linear in the LLRs, so their scale (the noise variance) does not change the decision."""
    llr = np.empty((symbols.shape[0], 2 * symbols.shape[1]), dtype=np.float32)
    llr[:, 0::2] = -symbols.real
    llr[:, 1::2] = -symbols.imag
    return llr * np.float32(4.0 / _SQRT_HALF)


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------

def header_symbols(sides) -> np.ndarray:
    """Headers ``[B, HEADER_SYMBOLS]`` complex64 for a list of :class:`SideInfo`."""
    sides = list(sides)
    for side in sides:
        _check_side(side)
    if not sides:
        return np.zeros((0, HEADER_SYMBOLS), np.complex64)
    return _qpsk(_get_coder().encode(_header_bits(sides)))


def frame_symbols(payload: np.ndarray, side: SideInfo) -> np.ndarray:
    """One frame: header (``HEADER_SYMBOLS``) + payload (``side.end`` complex symbols), complex64.

    Raises ``ValueError`` when ``len(payload) != side.end``, a field does not fit the header or the
    payload has non-finite values.
    """
    return frame_symbols_batch([payload], [side])[0]


def frame_symbols_batch(payloads, sides) -> list[np.ndarray]:
    """:func:`frame_symbols` for many frames, with one Sionna call for all headers."""
    payloads = [np.asarray(p).reshape(-1) for p in payloads]
    sides = list(sides)
    if len(payloads) != len(sides):
        raise ValueError(f"{len(payloads)} payloads but {len(sides)} side informations")
    for p, side in zip(payloads, sides):
        _check_side(side)
        if p.size != int(side.end):
            raise ValueError(f"payload has {p.size} symbols but the side information says end={side.end}")
        if not np.isfinite(p).all():
            raise ValueError("payload contains NaN or infinite values")
    headers = header_symbols(sides)
    return [np.concatenate([h, p.astype(np.complex64)]) for h, p in zip(headers, payloads)]


def parse_frames(frames) -> list:
    """Parse many frames; returns per frame ``(payload complex64 [end], SideInfo)`` or a
    :class:`FrameError` (returned, not raised). All headers are decoded in one Sionna call."""
    frames = [np.asarray(f).reshape(-1) for f in frames]
    results: list = [None] * len(frames)
    todo = []
    for i, f in enumerate(frames):
        if f.size < HEADER_SYMBOLS:
            results[i] = FrameError("truncated frame", f"{f.size} samples, the header alone is {HEADER_SYMBOLS}")
        elif not np.isfinite(f).all():
            results[i] = FrameError("non-finite samples", "NaN or inf in the frame")
        else:
            todo.append(i)
    if not todo:
        return results
    heads = np.stack([frames[i][:HEADER_SYMBOLS] for i in todo]).astype(np.complex64)
    bits, ok = _get_coder().decode(_llr(heads))
    fields = _fields(bits)
    sides = sides_from_columns(fields)
    for j, i in enumerate(todo):
        if not ok[j]:
            results[i] = FrameError("header CRC failure", "the frame header did not decode")
            continue
        version = int(fields["version"][j])
        if version != FORMAT_VERSION:
            results[i] = FrameError("unknown frame version", f"version {version}, this receiver reads {FORMAT_VERSION}")
            continue
        side = sides[j]
        length = frames[i].size - HEADER_SYMBOLS
        if length != side.end:
            results[i] = FrameError("payload length mismatch",
                                    f"{length} payload symbols but the header says end={side.end}")
            continue
        results[i] = (frames[i][HEADER_SYMBOLS:].astype(np.complex64), side)
    return results


def parse_frame(frame: np.ndarray):
    """``(payload complex64 [end], SideInfo)`` of one frame; raises :class:`FrameError`."""
    (result,) = parse_frames([frame])
    if isinstance(result, FrameError):
        raise result
    return result
