"""3GPP TR 38.901 tapped-delay-line channel on a stream of baseband samples (Sionna)."""

from __future__ import annotations

import math
from collections import deque
from numbers import Integral

import numpy as np
import torch

from .tdl import TDL_MODELS, _sionna_tdl_class

__all__ = ["TDLSampleChannel"]

#: Grid points per period of the largest Doppler shift on which time-varying
#: taps are computed (linear interpolation in between; error about 3e-4).
_DOPPLER_OVERSAMPLING = 128
#: Rough size (samples x sinusoids) of one Sionna draw; blocks are drawn in batches of this size.
_DRAW_BUDGET = 1 << 20
_SPEED_OF_LIGHT = 299_792_458.0


def _positive(name: str, value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be finite and > 0, got {value}")
    return value


def _integer(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class TDLSampleChannel:
    """TDL-A..E multipath channel on complex baseband samples, as a continuous stream.

    Sionna's TDL model draws the path gains and delays; ``cir_to_time_channel``
    turns them into discrete taps with sinc pulse shaping at ``sample_rate``
    (the bandwidth), for time lags ``l_min = -6`` to ``l_max = ceil(sample_rate *
    max_path_delay) + 6`` (Sionna's ``time_lag_discrete_time_channel``). The taps
    are shifted to be causal, so the output is

        ``y[n] = sum_k taps[k] x[n - k]``, ``k = 0 .. num_taps - 1``,

    which delays the signal by ``delay = -l_min = 6`` samples (the sinc
    precursors of paths between two samples). ``apply`` keeps the last
    ``num_taps - 1`` input samples, so a stream cut into chunks of any size
    gives the same output as the whole stream at once.

    Fading: the taps are redrawn, independently, every ``block_len`` samples
    (counted from the start of the stream), also with ``speed = 0``, so a long
    run sees many channel realisations; ``block_len = 0`` draws one static
    channel for the whole stream. With ``speed > 0`` the taps also change within
    a block following Sionna's sum-of-sinusoids Doppler model (computed on a
    grid of 128 points per Doppler period and interpolated linearly per
    sample); a block is then a stretch of continuous fading, and ``block_len``
    must be > 0.

    Power: taps are scaled so that ``E[sum_k |taps[k]|^2] = 1`` (the expected
    energy of the truncated sinc taps, computed from the power-delay profile),
    so the average output power equals the input power; each realisation
    fades around that.

    Args:
        model: TDL profile, one of ``"A"`` .. ``"E"`` (D and E have a LoS path).
        delay_spread: RMS delay spread in seconds.
        sample_rate: sample rate in Hz (the bandwidth of the taps).
        carrier_frequency: carrier frequency in Hz (sets the Doppler shift).
        speed: receiver speed in m/s.
        block_len: samples per channel realisation; 0 draws one for the whole stream.
        seed: seed of the ``torch.Generator`` Sionna draws from (no global state changes).

    Raises:
        ValueError: on an unknown model or an invalid argument value.
    """

    def __init__(
        self,
        model: str = "A",
        delay_spread: float = 100e-9,
        sample_rate: float = 1e6,
        carrier_frequency: float = 2.4e9,
        speed: float = 0.0,
        block_len: int = 4096,
        seed: int = 0,
    ):
        if model not in TDL_MODELS:
            raise ValueError(f"TDL model must be one of {TDL_MODELS}, got {model!r}")
        self.model = model
        self.delay_spread = _positive("delay_spread", delay_spread)
        self.sample_rate = _positive("sample_rate", sample_rate)
        self.carrier_frequency = _positive("carrier_frequency", carrier_frequency)
        try:
            self.speed = float(speed)
        except (TypeError, ValueError):
            raise ValueError(f"speed must be a number, got {speed!r}") from None
        if not math.isfinite(self.speed) or self.speed < 0:
            raise ValueError(f"speed must be finite and >= 0, got {speed}")
        self.block_len = _integer("block_len", block_len, 0)
        self.seed = _integer("seed", seed, 0)
        if self.speed > 0 and self.block_len == 0:
            raise ValueError("speed > 0 needs block_len > 0 (block_len = 0 means one static channel)")

        from sionna.phy.channel import cir_to_time_channel, time_lag_discrete_time_channel

        self._cir_to_time_channel = cir_to_time_channel
        self._tdl = _sionna_tdl_class()(
            model=model,
            delay_spread=self.delay_spread,
            carrier_frequency=self.carrier_frequency,
            min_speed=self.speed,
            max_speed=self.speed,
            device="cpu",
        )
        delays = self._tdl.delays.double().cpu().numpy()
        powers = self._tdl.mean_powers.double().cpu().numpy()
        self.l_min, self.l_max = time_lag_discrete_time_channel(self.sample_rate, float(delays.max()))
        self.num_taps = self.l_max - self.l_min + 1
        self.delay = -self.l_min
        # expected energy of the truncated taps: paths are uncorrelated and the sinc
        # taps of one path have energy sum_l sinc(l - W tau)^2 (1 without truncation)
        lags = np.arange(self.l_min, self.l_max + 1)
        energy = float(np.sum(powers[:, None] * np.sinc(lags[None, :] - self.sample_rate * delays[:, None]) ** 2))
        self._scale = 1.0 / math.sqrt(energy)

        # Doppler: taps on a grid every `_step` samples, linear interpolation in between
        max_doppler = self.speed * self.carrier_frequency / _SPEED_OF_LIGHT
        if max_doppler > 0:
            self._step = max(1, int(self.sample_rate / (_DOPPLER_OVERSAMPLING * max_doppler)))
            self._grid = (self.block_len - 1) // self._step + 2
        else:
            self._step, self._grid = 1, 1
        per_block = self._grid * self._tdl.num_clusters * 20  # Sionna sums 20 sinusoids per path
        self._batch = max(1, min(256, _DRAW_BUDGET // per_block))
        self.reset()

    def reset(self) -> None:
        """Back to the start of the stream: the generator reseeded, the history cleared."""
        self._generator = torch.Generator().manual_seed(self.seed)
        self._queue: deque = deque()
        self._block = None  # [grid, num_taps] complex64 of the current block
        self._pos = 0  # samples of the current block already processed
        self._history = np.zeros(self.num_taps - 1, np.complex64)

    def _draw(self) -> None:
        """Queue the taps of the next ``_batch`` blocks (fixed batches: chunking never changes the draws)."""
        self._tdl.generator = self._generator
        try:
            a, tau = self._tdl(self._batch, self._grid, self.sample_rate / self._step)
        finally:
            self._tdl.generator = None
        h = self._cir_to_time_channel(self.sample_rate, a, tau, self.l_min, self.l_max)  # [B,1,1,1,1,T,L]
        h = h.reshape(self._batch, self._grid, self.num_taps) * self._scale
        self._queue.extend(h.to(torch.complex64).cpu().numpy())

    def _next_block(self) -> None:
        if not self._queue:
            self._draw()
        self._block = self._queue.popleft()
        self._pos = 0

    def _block_done(self) -> bool:
        return self._block is None or (self.block_len > 0 and self._pos >= self.block_len)

    def _taps_at(self, start: int, count: int) -> np.ndarray:
        """Taps for block samples ``start .. start+count-1``: ``[num_taps]`` if static, else ``[count, num_taps]``."""
        if self._grid == 1:
            return self._block[0]
        idx = np.arange(start, start + count)
        j = idx // self._step
        frac = ((idx % self._step) / self._step).astype(np.float32)[:, None]
        lo = self._block[j].view(np.float32)  # [count, 2 num_taps]: real arithmetic (see _convolve)
        hi = self._block[j + 1].view(np.float32)
        return (lo + (hi - lo) * frac).view(np.complex64)

    def taps(self) -> np.ndarray:
        """The taps (complex64 ``[num_taps]``) that the next input sample sees; ``taps[k]`` acts at lag ``k``."""
        if self._block_done():
            self._next_block()
        return self._taps_at(self._pos, 1).reshape(-1, self.num_taps)[0].copy()

    def _convolve(self, g: np.ndarray, ext: np.ndarray, m: int) -> np.ndarray:
        """``sum_k g[..., k] ext[keep - k + n]`` for ``n < m``, in float32 real arithmetic.

        numpy's complex multiply gives results that differ in the last bit with
        the memory alignment of its operands; separate real multiplies and adds
        do not, so the output is bit-identical for every chunking of the stream.
        """
        keep = self.num_taps - 1
        xr, xi = np.ascontiguousarray(ext.real), np.ascontiguousarray(ext.imag)
        gr, gi = np.ascontiguousarray(g.real.T), np.ascontiguousarray(g.imag.T)  # [num_taps(, m)]
        yr, yi, tmp = np.zeros(m, np.float32), np.zeros(m, np.float32), np.empty(m, np.float32)
        for k in range(self.num_taps):
            sr, si = xr[keep - k:keep - k + m], xi[keep - k:keep - k + m]
            yr += np.multiply(gr[k], sr, out=tmp)
            yr -= np.multiply(gi[k], si, out=tmp)
            yi += np.multiply(gr[k], si, out=tmp)
            yi += np.multiply(gi[k], sr, out=tmp)
        y = np.empty(m, np.complex64)
        y.real, y.imag = yr, yi
        return y

    def apply(self, samples: np.ndarray) -> np.ndarray:
        """Pass the next ``samples`` (complex, 1-D) of the stream through the channel.

        Returns complex64 samples of the same length, delayed by ``delay``.
        Non-finite input spreads over the following ``num_taps`` outputs (the
        caller should clean it first).
        """
        x = np.asarray(samples)
        if x.ndim != 1:
            raise ValueError(f"samples must be 1-D, got shape {x.shape}")
        x = x.astype(np.complex64, copy=False)
        out = np.empty(x.size, np.complex64)
        keep = self.num_taps - 1
        i = 0
        while i < x.size:
            if self._block_done():
                self._next_block()
            m = x.size - i if self.block_len == 0 else min(x.size - i, self.block_len - self._pos)
            ext = np.concatenate([self._history, x[i:i + m]])
            g = self._taps_at(self._pos, m)
            out[i:i + m] = self._convolve(g, ext, m)
            self._history = ext[ext.size - keep:].copy()
            self._pos += m
            i += m
        return out

    def __repr__(self) -> str:
        return (
            f"TDLSampleChannel(model={self.model!r}, delay_spread={self.delay_spread}, "
            f"sample_rate={self.sample_rate}, carrier_frequency={self.carrier_frequency}, speed={self.speed}, "
            f"block_len={self.block_len}, seed={self.seed})"
        )
