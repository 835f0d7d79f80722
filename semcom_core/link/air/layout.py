"""Where everything sits in a burst: the preamble, the coded header, the side information and the payload.

A burst carries ``count`` images of ``length`` payload symbols each, in OFDM symbols of the
:class:`~semcom_core.symbols.ofdm.OfdmLayout` (subcarriers, pilots, cyclic prefix)::

    | short training | long training | header | side information | payload ... | gap |
      2 fft_len        cp + fft_len    H syms   S syms (q > 0)      P syms

- **Short training**: an OFDM symbol with energy on every fourth subcarrier (so its time signal repeats
  every ``fft_len / 4`` samples), sent twice without a cyclic prefix: eight repetitions of 16 samples
  for a 64-FFT. Its delayed autocorrelation finds bursts whatever the carrier offset, and gives the
  offset modulo four subcarrier spacings.
- **Long training**: a cyclic prefix and an OFDM symbol with known BPSK on every used subcarrier. The
  receiver correlates the whole preamble coherently to confirm a burst, find its start to the sample
  and resolve the carrier offset; the long symbol gives the first channel estimate.
- **Header** (:mod:`.header`): BPSK on the data subcarriers, shortened LDPC of rate 0.24.
- **Side information** (quantised payloads only): each image's quantiser range as two float16, in
  LDPC codewords of up to :data:`~.header.IMAGES_PER_SIDE_WORD` images, BPSK (as robust as the header).
- **Payload**: the images' symbols, one after another across OFDM symbols (an image may straddle two),
  the last OFDM symbol filled up with fixed pseudo-random QPSK.

Every OFDM symbol after the preamble has the layout's pilots. Levels follow
:meth:`OfdmLayout.noise_voltage`: RMS ``amplitude`` in time, Es/N0 per data subcarrier as the SNR.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from ...symbols.ofdm import OfdmLayout
from .header import HEADER_CODED_BITS, side_word_sizes

__all__ = ["BurstLayout", "BurstShape"]

_SHORT_SEED = 0x5407


@dataclass(frozen=True)
class BurstShape:
    """The sizes of one burst, in OFDM symbols and samples."""

    count: int
    length: int
    header_symbols: int
    side_symbols: int
    payload_symbols: int
    samples: int            # without the gap


@dataclass(frozen=True)
class BurstLayout:
    ofdm: OfdmLayout = OfdmLayout()

    @property
    def fft_len(self) -> int:
        return self.ofdm.fft_len

    @property
    def symbol_len(self) -> int:
        return self.ofdm.fft_len + self.ofdm.cp_len

    def noise_voltage(self, snr_db: float, amplitude: float = 1.0) -> float:
        """Time-domain noise RMS for Es/N0 = ``snr_db`` per data subcarrier (:meth:`OfdmLayout.noise_voltage`)."""
        return self.ofdm.noise_voltage(snr_db, amplitude)

    @property
    def scale(self) -> float:
        """Time samples per unit subcarrier symbol for RMS amplitude 1 (numpy's ``ifft`` divides by N)."""
        return self.fft_len / math.sqrt(self.ofdm.n_used)

    # -- preamble -------------------------------------------------------------------------------------
    @cached_property
    def short_period(self) -> int:
        return self.fft_len // 4

    @cached_property
    def short_len(self) -> int:
        return 2 * self.fft_len

    @cached_property
    def preamble_len(self) -> int:
        return self.short_len + self.symbol_len

    @cached_property
    def long_word(self) -> np.ndarray:
        """The long training symbol, shifted subcarrier order (BPSK on every used subcarrier)."""
        return self.ofdm.sync_words[1]

    @cached_property
    def preamble(self) -> np.ndarray:
        """The preamble's samples at RMS amplitude 1, complex64 ``[preamble_len]``."""
        n, lay = self.fft_len, self.ofdm
        used = [k for k in range(-lay.used_half, lay.used_half + 1) if k != 0]
        fourth = [k for k in used if k % 4 == 0]
        word = np.zeros(n, np.complex64)
        rng = np.random.default_rng(_SHORT_SEED + n)
        word[lay.shifted(fourth)] = rng.choice([-1.0, 1.0], len(fourth)) * math.sqrt(len(used) / len(fourth))
        short = np.fft.ifft(np.fft.ifftshift(word)) * self.scale
        long = np.fft.ifft(np.fft.ifftshift(self.long_word)) * self.scale
        return np.concatenate([short, short, long[-lay.cp_len:], long]).astype(np.complex64)

    # -- sizes ------------------------------------------------------------------------------------------
    @cached_property
    def header_symbols(self) -> int:
        return -(-HEADER_CODED_BITS // self.ofdm.n_data)

    def side_res(self, count: int, q: int) -> int:
        """Data subcarrier slots of the side information (BPSK, one coded bit each)."""
        if not q:
            return 0
        return sum(coded for _, coded in side_word_sizes(count))

    def shape(self, count: int, length: int, q: int) -> BurstShape:
        n_data = self.ofdm.n_data
        side = -(-self.side_res(count, q) // n_data)
        payload = max(1, -(-int(count) * int(length) // n_data))
        header = self.header_symbols
        samples = self.preamble_len + (header + side + payload) * self.symbol_len
        return BurstShape(int(count), int(length), header, side, payload, samples)

    @lru_cache(maxsize=1024)
    def max_count(self, length: int, q: int, max_samples: int, limit: int = 255) -> int:
        """The most images of ``length`` symbols a burst of at most ``max_samples`` samples holds (>= 1)."""
        best = 1
        for count in range(1, int(limit) + 1):
            if self.shape(count, length, q).samples > max_samples:
                break
            best = count
        return best
