"""OFDM subcarrier layout for semantic symbols: used, pilot and data subcarriers, sync words, levels.

``semcom_core.link.air`` builds its bursts (preamble, coded header, payload) on this layout.

- Subcarriers (signed, 0 = DC): ``U = round(26 fft_len / 64)`` used on each side of DC; pilots at
  ``+-7, +-21, +-35, ...`` (``+-7`` and ``+-21`` for ``fft_len = 64``: the 802.11a pattern GNU Radio's
  OFDM examples use) with the symbols ``1, 1, 1, -1`` repeated; the other used subcarriers carry
  data, filled in increasing subcarrier order, one OFDM symbol after another.
- Sync words (Schmidl & Cox): the first has energy on even subcarriers only (two equal halves in
  time), the second on every used subcarrier; fixed +-1 patterns, the same at both ends.
- Vectors are in "shifted" order (index ``k + fft_len / 2`` holds subcarrier ``k``), as GNU Radio's
  carrier allocator writes them and its FFT with ``shift=True`` reads them.

SNR convention: Es/N0 per data subcarrier, the same as the symbol-level channels. The transmitter
scales the time signal to RMS ``amplitude``; :meth:`OfdmLayout.noise_voltage` is the time-domain noise
level that gives a chosen SNR on the subcarriers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..units import db_to_linear

__all__ = ["OfdmLayout"]

_PILOT_PATTERN = (1.0, 1.0, 1.0, -1.0)
_SYNC_SEED = 0x5E3C   # fixed: both ends must build the same sync words


@dataclass(frozen=True)
class OfdmLayout:
    fft_len: int = 64
    cp_len: int = 16

    def __post_init__(self):
        n, cp = self.fft_len, self.cp_len
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 64 or n > 4096 or n & (n - 1):
            raise ValueError(f"fft_len must be a power of two in [64, 4096], got {n!r}")
        if isinstance(cp, bool) or not isinstance(cp, (int, np.integer)) or not 1 <= cp <= n // 2:
            raise ValueError(f"cp_len must be an integer in [1, fft_len/2 = {n // 2}], got {cp!r}")

    # -- subcarriers -----------------------------------------------------------
    @cached_property
    def used_half(self) -> int:
        return round(26 * self.fft_len / 64)

    @cached_property
    def pilot_carriers(self) -> tuple:
        pos = list(range(7, self.used_half + 1, 14))
        return tuple(sorted([-k for k in pos] + pos))

    @cached_property
    def pilot_symbols(self) -> tuple:
        return tuple(_PILOT_PATTERN[i % len(_PILOT_PATTERN)] for i in range(len(self.pilot_carriers)))

    @cached_property
    def data_carriers(self) -> tuple:
        pilots = set(self.pilot_carriers)
        return tuple(k for k in range(-self.used_half, self.used_half + 1) if k != 0 and k not in pilots)

    @property
    def n_data(self) -> int:
        """Data subcarriers per OFDM symbol."""
        return len(self.data_carriers)

    @property
    def n_used(self) -> int:
        return len(self.data_carriers) + len(self.pilot_carriers)

    def shifted(self, carriers) -> np.ndarray:
        """Vector indices of signed subcarriers."""
        return np.asarray(carriers, dtype=np.int64) + self.fft_len // 2

    # -- sync words --------------------------------------------------------------
    @cached_property
    def sync_words(self) -> tuple:
        """The two Schmidl & Cox preamble symbols, shifted order, complex64 ``[fft_len]`` each.
        Both have the data symbols' average power per used subcarrier."""
        rng = np.random.default_rng(_SYNC_SEED + self.fft_len)
        used = [k for k in range(-self.used_half, self.used_half + 1) if k != 0]
        even = [k for k in used if k % 2 == 0]
        w1 = np.zeros(self.fft_len, np.complex64)
        w1[self.shifted(even)] = rng.choice([-1.0, 1.0], len(even)) * math.sqrt(len(used) / len(even))
        w2 = np.zeros(self.fft_len, np.complex64)
        w2[self.shifted(used)] = rng.choice([-1.0, 1.0], len(used))
        return w1, w2

    # -- levels ----------------------------------------------------------------------
    def noise_voltage(self, snr_db: float, amplitude: float = 1.0) -> float:
        """Time-domain complex noise RMS giving Es/N0 = ``snr_db`` on each data subcarrier when the
        transmitter's RMS amplitude is ``amplitude``.

        With an unnormalised IFFT scaled by ``amplitude / sqrt(n_used)`` and an unnormalised FFT, a
        subcarrier symbol of power 1 arrives with power ``fft_len^2 amplitude^2 / n_used`` and the noise
        with ``fft_len sigma^2``."""
        snr = db_to_linear(float(snr_db))
        return math.sqrt(self.fft_len * amplitude ** 2 / (self.n_used * snr))
