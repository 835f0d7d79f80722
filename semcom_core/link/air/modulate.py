"""Transmitter side: a burst's samples from its header, its images' symbols and their quantiser ranges."""

from __future__ import annotations

import numpy as np

from .header import BurstHeader, encode_header, encode_side_words
from .layout import BurstLayout

__all__ = ["bpsk", "filler", "modulate_burst", "scrambler", "to_time"]

_MAX_SLOTS = 1 << 17          # more data subcarrier slots than any burst has
_FILLER = np.exp(1j * (np.pi / 4 + np.pi / 2 * np.random.default_rng(0x51D).integers(0, 4, _MAX_SLOTS))).astype(
    np.complex64)
_FILLER.setflags(write=False)
_SCRAMBLER = (1.0 - 2.0 * np.random.default_rng(0x5C4A).integers(0, 2, _MAX_SLOTS)).astype(np.float32)
_SCRAMBLER.setflags(write=False)


def filler(count: int) -> np.ndarray:
    """Fixed pseudo-random QPSK that fills a burst's last OFDM symbol (never zeros: an almost empty
    symbol would look like the short training)."""
    return _FILLER[: max(0, int(count))]


def scrambler(count: int) -> np.ndarray:
    """Fixed pseudo-random +-1 that multiplies the coded BPSK of header and side words (so that fields
    full of zeros do not make OFDM symbols with high peaks); the receiver multiplies by it again."""
    if count > _SCRAMBLER.size:
        raise ValueError(f"no burst has {count} coded bits")
    return _SCRAMBLER[: max(0, int(count))]


def bpsk(bits: np.ndarray) -> np.ndarray:
    """Scrambled BPSK (bit 0 -> +1 before scrambling), unit power."""
    b = 1.0 - 2.0 * np.asarray(bits, np.float32).reshape(-1)
    return (b * scrambler(b.size)).astype(np.complex64)


def _fill(symbols: np.ndarray, slots: int) -> np.ndarray:
    """``symbols`` followed by the filler up to ``slots``."""
    out = np.empty(slots, np.complex64)
    out[: symbols.size] = symbols
    out[symbols.size:] = filler(slots)[symbols.size:]
    return out


def to_time(layout: BurstLayout, data: np.ndarray, amplitude: float = 1.0) -> np.ndarray:
    """OFDM symbols with cyclic prefix from data subcarrier symbols ``[S, n_data]`` (pilots added)."""
    lay = layout.ofdm
    vec = np.zeros((data.shape[0], lay.fft_len), np.complex64)
    vec[:, lay.shifted(lay.data_carriers)] = data
    vec[:, lay.shifted(lay.pilot_carriers)] = np.asarray(lay.pilot_symbols, np.complex64)[None, :]
    time = np.fft.ifft(np.fft.ifftshift(vec, axes=1), axis=1) * (layout.scale * amplitude)
    return np.concatenate([time[:, -lay.cp_len:], time], axis=1).reshape(-1).astype(np.complex64)


def modulate_burst(layout: BurstLayout, header: BurstHeader, payloads, ranges=None,
                   amplitude: float = 1.0) -> np.ndarray:
    """The samples (complex64, without gap) of one burst.

    Args:
        header: its fields; ``header.count`` payloads of ``header.length`` symbols each.
        payloads: complex symbols of each image (unit average power).
        ranges: ``[(z_min, z_max)]`` per image when ``header.q`` > 0.
    """
    n_data = layout.ofdm.n_data
    shape = layout.shape(header.count, header.length, header.q)
    payloads = [np.asarray(p, np.complex64).reshape(-1) for p in payloads]
    if len(payloads) != header.count or any(p.size != header.length for p in payloads):
        raise ValueError(f"need {header.count} payloads of {header.length} symbols")
    coded = encode_header(header)
    slots = shape.header_symbols * n_data
    header_bpsk = bpsk(np.resize(coded, slots))                                  # repeated to fill the slots
    parts = [header_bpsk]
    if header.q:
        if ranges is None or len(ranges) != header.count:
            raise ValueError("quantised payloads need one (z_min, z_max) per image")
        parts.append(_fill(bpsk(encode_side_words(ranges)), shape.side_symbols * n_data))
    parts.append(_fill(np.concatenate(payloads), shape.payload_symbols * n_data))
    data = np.concatenate(parts).reshape(-1, n_data)
    body = to_time(layout, data, amplitude)
    return np.concatenate([layout.preamble * amplitude, body]).astype(np.complex64)
