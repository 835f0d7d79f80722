"""Finding bursts in a sample stream: where they start and their carrier offset.

Two stages, both vectorised over a block of samples:

1. **Autocorrelation** of the short training (lag ``fft_len / 4``): ``M[n] = |P[n]| / R[n]`` is near
   ``snr / (1 + snr)`` at a burst start whatever the carrier offset, and ``~ 1 / sqrt(W)`` on noise. Its
   threshold is low (0.2), so it misses almost nothing down to 0 dB; its phase gives the carrier offset
   modulo four subcarrier spacings.
2. **Coherent confirmation**: around each candidate, the samples are derotated for the offset and its
   aliases (+-4 and +-8 subcarrier spacings) and correlated with the whole preamble. The normalised peak
   is ``sqrt(snr / (1 + snr))`` on a burst (0.54 at -3 dB) and exceeds the threshold 0.27 on noise with a
   probability of about 1e-9 per lag and offset tried. The peak gives the start to the sample, and the
   phase drift between the short and long training refines the offset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layout import BurstLayout

__all__ = ["Acquisition", "Detector"]

#: Carrier-offset aliases tried, in units of the short training's unambiguous range (4 spacings for 64-FFT).
_ALIASES = (-2, -1, 0, 1, 2)


@dataclass(frozen=True)
class Acquisition:
    start: int          # index of the burst's first sample in the block given
    cfo: float          # carrier offset, cycles per sample
    quality: float      # normalised coherent correlation, 0..1


class Detector:
    """Preamble detection for one :class:`BurstLayout`.

    Args:
        auto_threshold: autocorrelation threshold of stage 1.
        threshold: coherent correlation threshold of stage 2.
        search: samples either side of the autocorrelation peak searched in stage 2.
    """

    def __init__(self, layout: BurstLayout, auto_threshold: float = 0.2, threshold: float = 0.27, search: int = 64):
        self.layout = layout
        self.lag = layout.short_period
        self.window = layout.short_len - self.lag
        self.auto_threshold = float(auto_threshold)
        self.threshold = float(threshold)
        self.search = int(search)
        p = layout.preamble.astype(np.complex128)
        self._template = np.conj(p) / np.linalg.norm(p)
        self._aliases = np.asarray(_ALIASES, np.float64)
        self.lookahead = self.window + self.lag                # samples after n that M[n] needs
        self.span = 2 * self.search + len(p)                   # samples stage 2 needs from candidate - search

    def metric(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(M, P)`` for every n with ``n + lookahead <= len(y)``: normalised magnitude and raw correlation."""
        y = np.asarray(y, np.complex128)
        count = y.size - self.lookahead + 1
        if count <= 0:
            return np.zeros(0), np.zeros(0, np.complex128)
        prod = np.conj(y[:-self.lag]) * y[self.lag:]
        cp = np.concatenate([[0], np.cumsum(prod)])
        e = np.abs(y) ** 2
        ce = np.concatenate([[0.0], np.cumsum(e)])
        n = np.arange(count)
        w = self.window
        p = cp[n + w] - cp[n]
        r = 0.5 * (ce[n + w] - ce[n] + ce[n + w + self.lag] - ce[n + self.lag])
        return np.abs(p) / np.maximum(r, 1e-30), p

    def candidates(self, m: np.ndarray, threshold: float | None = None) -> np.ndarray:
        """Positions of the autocorrelation peaks: the maximum of each excursion above the threshold
        (excursions closer than a short training merge)."""
        above = np.flatnonzero(m > (self.auto_threshold if threshold is None else threshold))
        if not above.size:
            return np.zeros(0, np.int64)
        breaks = np.flatnonzero(np.diff(above) > self.layout.short_len)
        firsts = np.concatenate([[0], breaks + 1])
        lasts = np.concatenate([breaks, [above.size - 1]])
        return np.asarray([above[f] + int(np.argmax(m[above[f]: above[l] + 1])) for f, l in zip(firsts, lasts)],
                          np.int64)

    def confirm(self, y: np.ndarray, peak: int, p_value: complex) -> Acquisition | None:
        """Stage 2 around autocorrelation peak ``peak`` of ``y`` (needs ``y[peak - search: peak - search + span]``)."""
        lo = peak - self.search
        seg = np.asarray(y[max(lo, 0): lo + self.span], np.complex128)
        if lo < 0:                                   # a burst at the very start of the stream
            seg = np.concatenate([np.zeros(-lo, np.complex128), seg])
        if seg.size < self.span:
            return None
        base = np.angle(p_value) / (2 * np.pi * self.lag)
        n = self._template.size
        freqs = base + self._aliases / self.lag                                     # [A]
        rot = seg[None, :] * np.exp(-2j * np.pi * freqs[:, None] * np.arange(seg.size)[None, :])
        corr = np.lib.stride_tricks.sliding_window_view(rot, n, axis=1) @ self._template   # [A, lags]
        energy = np.convolve(np.abs(seg) ** 2, np.ones(n), "valid")                 # the same for every alias
        score = np.abs(corr) / np.sqrt(np.maximum(energy, 1e-30))[None, :]
        a, j = np.unravel_index(int(np.argmax(score)), score.shape)
        quality, f, win = float(score[a, j]), float(freqs[a]), rot[a, j: j + n]
        if quality < self.threshold:
            return None
        # refine the offset: phase drift between the short and the long training
        split = self.layout.short_len
        a = np.sum(win[:split] * self._template[:split])
        b = np.sum(win[split:] * self._template[split:])
        distance = (split + n) / 2 - split / 2
        f += np.angle(b * np.conj(a)) / (2 * np.pi * distance)
        return Acquisition(start=lo + j, cfo=float(f), quality=quality)
