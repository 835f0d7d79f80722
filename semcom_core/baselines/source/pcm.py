"""Speech and audio as 16-bit little-endian PCM: ``bits = 16 * samples``."""

from __future__ import annotations

import numpy as np

from .base import Encoded, SourceCodec, SourceDecodeError

__all__ = ["PCM16Codec"]

SCALE = 32767


class PCM16Codec(SourceCodec):
    """A float waveform ``[N]`` in [-1, 1] as int16 samples ``round(x * 32767)``.

    Samples outside [-1, 1] are clipped to it (not an error); NaN or infinite
    samples are. One rung (quality 16: bits per sample). ``meta`` holds the
    number of samples and the sample rate; a payload of any other length
    than ``2 * samples`` bytes raises SourceDecodeError. Decoding returns
    float32 samples ``int16 / 32767``, within ``0.5 / 32767`` of the clipped
    input.

    Args:
        sample_rate: samples per second, carried in ``meta`` (the codec does
            not resample).
    """

    name = "pcm16"

    def __init__(self, sample_rate: int = 16000):
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate < 1:
            raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")
        self.sample_rate = int(sample_rate)

    def ladder(self, item) -> list[Encoded]:
        if not isinstance(item, np.ndarray) or item.ndim != 1 or item.size == 0:
            raise ValueError(f"a waveform must be a non-empty 1-D numpy array, got "
                             f"{type(item).__name__}{getattr(item, 'shape', '')}")
        if not np.issubdtype(item.dtype, np.floating):
            raise ValueError(f"a waveform must hold floats in [-1, 1], got dtype {item.dtype}")
        if not np.isfinite(item).all():
            raise ValueError("the waveform holds NaN or infinite samples")
        samples = np.round(np.clip(item, -1.0, 1.0) * SCALE).astype("<i2")
        payload = samples.tobytes()
        meta = {"samples": int(item.size), "sample_rate": self.sample_rate}
        return [Encoded(payload, 8 * len(payload), 16.0, meta)]

    def decode(self, payload: bytes, meta: dict) -> np.ndarray:
        samples = meta.get("samples") if isinstance(meta, dict) else None
        if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
            raise ValueError(f"meta must hold the number of samples, got {meta!r}")
        if len(payload) != 2 * samples:
            raise SourceDecodeError(f"PCM payload of {len(payload)} bytes, expected {2 * samples}")
        return np.frombuffer(bytes(payload), dtype="<i2").astype(np.float32) / np.float32(SCALE)
