"""Demodulating one acquired burst: channel estimate, phase tracking, header, side information, payload.

All of a burst's OFDM symbols go through one FFT call. The channel is estimated on the long training,
smoothed by projecting it onto the delays a cyclic prefix can hold, then re-estimated from the long
training and the decoded header together (the header's bits are known once its CRC passed): at 0 dB
that estimate is some 15 dB cleaner than the payload, so equalisation adds almost no noise. The phase of
each OFDM symbol follows the residual carrier offset fitted over the header, corrected by the pilots
(averaged over neighbouring symbols) for phase noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .header import HEADER_CODED_BITS, BurstHeader, decode_header, decode_side_words, side_word_sizes
from .layout import BurstLayout
from .modulate import bpsk, scrambler

__all__ = ["BurstDemodulator", "Demodulated"]

_STEP_GRID = np.linspace(-0.6, 0.6, 121)   # rad per OFDM symbol
_TAP_CHOICES = (10, 12, 15, 19, 25)    # channel lengths tried (delays, the FFT window's backoff included)
_NOISE_FLOOR = 1e-12     # noise estimates never fall below this fraction of the signal (noiseless input)
_LLR_MAX = 1e3
_PILOT_SMOOTH = 8       # pilots of this many OFDM symbols either side help each symbol's phase


@dataclass
class Demodulated:
    header: BurstHeader | None
    reason: str | None              # why the header failed
    ranges: list | None = None      # per image (z_min, z_max) or None (side word failed)
    payload: np.ndarray | None = None   # data subcarrier symbols of the payload, equalised, in order
    noise_var: np.ndarray | None = None  # per payload symbol, after equalisation
    noise_bin: float = float("nan")      # noise per subcarrier before equalisation
    signal_bin: float = float("nan")     # mean channel power per subcarrier
    start: int = 0                       # the burst's first sample
    cfo: float = 0.0                     # carrier offset, cycles per sample
    step: float = 0.0                    # residual phase step per OFDM symbol
    h: np.ndarray | None = None          # channel per subcarrier (shifted order)


class BurstDemodulator:
    def __init__(self, layout: BurstLayout):
        self.layout = layout
        lay = layout.ofdm
        self.data_idx = lay.shifted(lay.data_carriers)
        self.pilot_idx = lay.shifted(lay.pilot_carriers)
        self.used_idx = np.sort(np.concatenate([self.data_idx, self.pilot_idx]))
        self.pilots = np.asarray(lay.pilot_symbols, np.complex64)
        self.backoff = max(1, lay.cp_len // 2)       # FFT window this far into the cyclic prefix
        self._cache: dict = {}

    @cached_property
    def _delays(self) -> np.ndarray:
        """``[fft_len, D]``: each subcarrier's response to the delays 0..cp + backoff a channel can have."""
        lay = self.layout.ofdm
        k = np.arange(lay.fft_len) - lay.fft_len // 2
        return np.exp(-2j * np.pi * np.outer(k, np.arange(0, lay.cp_len + self.backoff + 1)) / lay.fft_len)

    @cached_property
    def short_word(self) -> np.ndarray:
        """The short training symbol in shifted subcarrier order (energy on every fourth subcarrier)."""
        n = self.layout.fft_len
        return np.fft.fftshift(np.fft.fft(self.layout.preamble[:n])) / self.layout.scale

    def _channel(self, obs: np.ndarray, ref: np.ndarray, noise_bin: float) -> np.ndarray:
        """Least-squares channel on all subcarriers from FFT outputs ``obs [S, fft_len]`` of symbols known to
        be ``ref [S, fft_len]`` (0 where unknown), fitted as an impulse response of the first D delays.

        D (at most the cyclic prefix plus the FFT window's backoff) is chosen by Akaike's criterion with
        the known noise ``noise_bin`` per subcarrier: a short channel keeps few taps and with them little
        of the estimation noise."""
        f = self._delays
        b_all = f.conj().T @ (np.conj(ref) * obs).sum(axis=0)
        best = None
        for d, inverse in self._inverses(ref):
            g = inverse @ b_all[:d]
            gain = float(np.real(np.vdot(b_all[:d], g)))           # how much the fit lowers the residual
            score = -gain / max(noise_bin, 1e-30) + 2 * d
            if best is None or score < best[0]:
                best = (score, d, g)
        _, d, g = best
        return f[:, :d] @ g

    def _inverses(self, ref: np.ndarray) -> list:
        """``[(D, inverse normal matrix)]`` per channel length for known symbols of the magnitudes of ``ref``
        (the preamble's, the header's: fixed, so computed once each)."""
        w = (np.abs(ref) ** 2).sum(axis=0)
        key = (ref.shape[0], float(w.sum()))
        if key not in self._cache:
            f = self._delays
            a = (f.conj().T * w[None, :]) @ f
            self._cache[key] = [(d, np.linalg.inv(a[:d, :d] + 1e-9 * np.eye(d)))
                                for d in sorted({min(d, f.shape[1]) for d in _TAP_CHOICES})]
        return self._cache[key]

    def _preamble_symbols(self, y, start, cfo):
        """FFT outputs and known symbols of the two short-training windows and the long training."""
        lay, per = self.layout.ofdm, self.layout.short_period
        starts = [start + per - self.backoff, start + self.layout.short_len - lay.fft_len - self.backoff,
                  start + self.layout.short_len + lay.cp_len - self.backoff]
        idx = np.asarray(starts)[:, None] + np.arange(lay.fft_len)[None, :]
        obs = np.fft.fftshift(np.fft.fft(y[idx] * np.exp(-2j * np.pi * cfo * (idx - start)), axis=1), axes=1)
        ref = np.stack([self.short_word, self.short_word, self.layout.long_word]) * self.layout.scale
        return obs, ref

    def symbols(self, y: np.ndarray, start: int, first: int, count: int, cfo: float) -> np.ndarray:
        """FFT (shifted order) of ``count`` OFDM symbols from the ``first``-th after the preamble,
        derotated by the carrier offset (phase referenced to the burst start)."""
        lay, L = self.layout.ofdm, self.layout.symbol_len
        s0 = start + self.layout.preamble_len + first * L + lay.cp_len - self.backoff
        idx = s0 + np.arange(count)[:, None] * L + np.arange(lay.fft_len)[None, :]
        rot = np.exp(-2j * np.pi * cfo * (idx - start))
        return np.fft.fftshift(np.fft.fft(y[idx] * rot, axis=1), axes=1)

    def _noise_from_short(self, y, start, cfo) -> float:
        """Time-domain noise variance from the repetitions of the short training."""
        lag, n = self.layout.short_period, self.layout.short_len
        seg = y[start: start + n] * np.exp(-2j * np.pi * cfo * np.arange(n))
        diff = seg[lag:] - seg[:-lag]
        return float(np.mean(np.abs(diff) ** 2) / 2)

    def header(self, y: np.ndarray, start: int, cfo: float) -> Demodulated:
        """Decode the header of the burst at ``y[start]`` (needs its preamble and header symbols) and
        estimate the channel, noise and phase drift from everything known once it decoded."""
        lay, n_data = self.layout.ofdm, self.layout.ofdm.n_data
        scale, hs, used = self.layout.scale, self.layout.header_symbols, self.used_idx
        pre_obs, pre_ref = self._preamble_symbols(y, start, cfo)
        noise_bin = self._noise_from_short(y, start, cfo) * lay.fft_len      # numpy FFT: noise grows by N
        h = self._channel(pre_obs, pre_ref, noise_bin)
        head = self.symbols(y, start, 0, hs, cfo)
        step0 = self._header_step(head, h, scale)
        eq = head * np.exp(-1j * step0 * np.arange(1, hs + 1))[:, None]
        soft = (eq[:, self.data_idx] * np.conj(h[self.data_idx] * scale)).real.reshape(-1)
        soft = soft * scrambler(soft.size)
        noise_bin = max(noise_bin, _NOISE_FLOOR * float(np.mean(np.abs(h[used] * scale) ** 2)), 1e-30)
        llr_slots = np.clip(4 * soft / noise_bin, -_LLR_MAX, _LLR_MAX)
        llr = np.zeros(HEADER_CODED_BITS)
        np.add.at(llr, np.arange(llr_slots.size) % HEADER_CODED_BITS, llr_slots)
        header, coded = decode_header(llr)
        if isinstance(header, str):
            return Demodulated(None, header)
        out = Demodulated(header, None, start=start, cfo=cfo)
        # every header subcarrier is known now: each symbol's phase, the residual offset as the line through
        # them (the long training is symbol 0), then channel and noise from preamble and header together
        ref_h = np.zeros((hs, lay.fft_len), np.complex128)
        ref_h[:, self.data_idx] = bpsk(np.resize(coded, hs * n_data)).reshape(hs, n_data)
        ref_h[:, self.pilot_idx] = self.pilots
        ref_h *= scale
        per = (eq[:, used] * np.conj(ref_h[:, used] * h[used][None, :])).sum(axis=1)
        idx = np.arange(1, hs + 1)
        phases = step0 * idx + np.angle(per)
        out.step = float(np.sum(idx * phases) / np.sum(idx * idx))
        obs_h = head * np.exp(-1j * phases)[:, None]
        obs, ref = np.concatenate([pre_obs, obs_h]), np.concatenate([pre_ref, ref_h])
        for _ in range(2):          # the noise estimate picks the channel length, which refines the noise
            h = self._channel(obs, ref, noise_bin)
            noise_bin = float(np.mean(np.abs(obs_h[:, used] - h[used][None, :] * ref_h[:, used]) ** 2))
            noise_bin = max(noise_bin, _NOISE_FLOOR * float(np.mean(np.abs(h[used] * scale) ** 2)))
        out.h, out.noise_bin = h, noise_bin
        out.signal_bin = float(np.mean(np.abs(h[used] * scale) ** 2))
        return out

    def body(self, y: np.ndarray, out: Demodulated, limit: int | None = None) -> Demodulated:
        """Equalise the side information and payload of a burst whose header decoded (``out`` from
        :meth:`header`); ``limit``: index where the burst must end (a next burst starts there), OFDM
        symbols past it are not read."""
        header, start, h, noise_bin = out.header, out.start, out.h, out.noise_bin
        scale, hs = self.layout.scale, self.layout.header_symbols
        shape = self.layout.shape(header.count, header.length, header.q)
        total = shape.side_symbols + shape.payload_symbols
        if limit is not None:
            room = (limit - start - self.layout.preamble_len) // self.layout.symbol_len - hs
            total = max(0, min(total, room))
        out.payload, out.noise_var = np.zeros(0, np.complex64), np.zeros(0)
        if header.q:
            out.ranges = [None] * header.count
        if total <= 0:
            return out
        body = self.symbols(y, start, hs, total, out.cfo)
        body = body * np.exp(-1j * out.step * np.arange(hs + 1, hs + total + 1))[:, None]
        body = body * np.exp(-1j * self._pilot_correction(body, h, scale))[:, None]
        hd = h[self.data_idx] * scale
        data = body[:, self.data_idx]
        if header.q:
            s = shape.side_symbols
            soft = (data[:s] * np.conj(hd)[None, :]).real.reshape(-1)
            soft = soft * scrambler(soft.size)
            coded = sum(c for _, c in side_word_sizes(header.count))
            if coded <= soft.size:                     # else the burst was cut inside its side information
                llr = np.clip(4 * soft[:coded] / noise_bin, -_LLR_MAX, _LLR_MAX)
                out.ranges = decode_side_words(llr, header.count)
            data = data[s:]
        out.payload = (data / hd[None, :]).reshape(-1).astype(np.complex64)
        out.noise_var = np.tile(noise_bin / np.abs(hd) ** 2, data.shape[0])
        return out

    def _header_step(self, head, h, scale) -> float:
        """Phase step per OFDM symbol (residual carrier offset) over the header: the line through the
        long training (phase 0) that best matches the pilots of every header symbol (a grid search, robust
        at low SNR where per-symbol pilot phases are noisy)."""
        ref = h[self.pilot_idx] * scale * self.pilots
        corr = (head[:, self.pilot_idx] * np.conj(ref)[None, :]).sum(axis=1)
        s = np.arange(1, corr.size + 1)
        score = (corr[None, :] * np.exp(-1j * np.outer(_STEP_GRID, s))).sum(axis=1).real
        return float(_STEP_GRID[int(np.argmax(score))])

    def _pilot_correction(self, body, h, scale) -> np.ndarray:
        """Per-symbol common phase error left after the fitted step (phase noise), from the pilots of
        each symbol and its neighbours."""
        ref = h[self.pilot_idx] * scale * self.pilots
        corr = (body[:, self.pilot_idx] * np.conj(ref)[None, :]).sum(axis=1)
        kernel = np.ones(2 * _PILOT_SMOOTH + 1)
        smooth = np.convolve(corr, kernel)[_PILOT_SMOOTH: _PILOT_SMOOTH + corr.size]
        return np.angle(smooth)
