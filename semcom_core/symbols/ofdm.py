"""OFDM frame layout for semantic symbols, and the pilot-aided equaliser of the payload.

A frame, in OFDM symbols of ``fft_len`` subcarriers plus a ``cp_len`` cyclic prefix::

    [ sync 1 | sync 2 | header (BPSK, PHY header) | payload (semantic symbols, as they are) ]

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

The payload is not equalised by GNU Radio's frame equaliser: its equalisers overwrite the pilots
with their ideal values (so nothing is left to measure the noise with), and its decision-feedback one
decides data symbols on a constellation, which semantic (analog) symbols are not.
:meth:`OfdmLayout.equalise` divides by the channel estimated from the preamble, removes each OFDM
symbol's common phase error measured on its pilots, and estimates the noise from the pilot residuals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..units import db_to_linear
from .phy_header import PHY_HEADER_SYMBOLS

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

    # -- frame sizes ---------------------------------------------------------------
    @property
    def header_ofdm_symbols(self) -> int:
        return -(-PHY_HEADER_SYMBOLS // self.n_data)

    @property
    def header_slots(self) -> int:
        """Data symbols the header occupies (the encoded header, then zero padding)."""
        return self.header_ofdm_symbols * self.n_data

    def payload_ofdm_symbols(self, length: int) -> int:
        """OFDM symbols for ``length`` payload symbols (at least one, so every frame has a payload)."""
        return max(1, -(-int(length) // self.n_data))

    def frame_samples(self, length: int) -> int:
        """Samples of one frame carrying ``length`` payload symbols (without gaps)."""
        symbols = 2 + self.header_ofdm_symbols + self.payload_ofdm_symbols(length)
        return symbols * (self.fft_len + self.cp_len)

    # -- levels ----------------------------------------------------------------------
    def noise_voltage(self, snr_db: float, amplitude: float = 1.0) -> float:
        """Time-domain complex noise RMS giving Es/N0 = ``snr_db`` on each data subcarrier when the
        transmitter's RMS amplitude is ``amplitude``.

        With an unnormalised IFFT scaled by ``amplitude / sqrt(n_used)`` and an unnormalised FFT, a
        subcarrier symbol of power 1 arrives with power ``fft_len^2 amplitude^2 / n_used`` and the noise
        with ``fft_len sigma^2``."""
        snr = db_to_linear(float(snr_db))
        return math.sqrt(self.fft_len * amplitude ** 2 / (self.n_used * snr))

    # -- receiver ----------------------------------------------------------------------
    def _offset(self, v: np.ndarray, carrier_offset: int) -> np.ndarray:
        """Vector index ``j`` read from ``j + carrier_offset`` (zeros where that falls outside)."""
        off = int(carrier_offset)
        if not off:
            return v
        shifted = np.zeros_like(v)
        if off > 0:
            shifted[:, : self.fft_len - off] = v[:, off:]
        else:
            shifted[:, -off:] = v[:, : self.fft_len + off]
        return shifted

    def estimate_channel(self, vectors, known, carrier_offset: int = 0):
        """Channel estimate from OFDM symbols whose content is known (a decoded header).

        Args:
            vectors: ``[S, fft_len]`` complex FFT output of the known symbols (S >= 2).
            known: ``[S, n_data]`` their data subcarrier symbols (the pilots are known anyway).
            carrier_offset: as for :meth:`equalise`.

        Each symbol gives one observation of the channel on every used subcarrier; after removing each
        symbol's common phase (residual frequency offset), they are averaged. Returns
        ``(taps [fft_len] complex64, noise_var)``: the estimate (0 on unused subcarriers) and the noise
        variance an equalised symbol will have, averaged over the data subcarriers, from the spread of
        the observations.
        """
        v = self._offset(np.asarray(vectors, dtype=np.complex64), carrier_offset)
        known = np.asarray(known, dtype=np.complex64)
        s = v.shape[0]
        if v.ndim != 2 or v.shape[1] != self.fft_len or s < 2 or known.shape != (s, self.n_data):
            raise ValueError(f"need vectors [S >= 2, {self.fft_len}] and known [S, {self.n_data}], "
                             f"got {v.shape} and {known.shape}")
        used = np.concatenate([self.shifted(self.data_carriers), self.shifted(self.pilot_carriers)])
        ref = np.concatenate([known, np.tile(np.asarray(self.pilot_symbols, np.complex64), (s, 1))], axis=1)
        obs = v[:, used] / np.where(np.abs(ref) > 0, ref, 1.0)
        phase = np.angle((obs * obs[0].conj()[None, :]).sum(axis=1))
        obs = obs * np.exp(-1j * phase).astype(np.complex64)[:, None]
        h = obs.mean(axis=0)
        spread = (np.abs(obs - h[None, :]) ** 2).sum(axis=0) / (s - 1)      # raw noise per subcarrier
        n_d = self.n_data
        mag2 = np.maximum(np.abs(h[:n_d]) ** 2, 1e-30)
        noise_var = float(np.mean(spread[:n_d] / mag2))
        taps = np.zeros(self.fft_len, np.complex64)
        taps[used] = h
        return taps, noise_var

    def equalise(self, vectors, taps, carrier_offset: int = 0):
        """Equalise the payload OFDM symbols of one frame.

        Args:
            vectors: ``[S, fft_len]`` complex, the receiver's FFT output (shifted order).
            taps: ``[fft_len]`` complex channel estimate (GNU Radio's ``ofdm_sync_chan_taps``), in
                the carrier-offset-corrected index domain.
            carrier_offset: integer subcarrier offset found by the channel estimator (GNU Radio's
                ``ofdm_sync_carr_offset``): vector index ``j`` is read from ``j + carrier_offset``.

        Returns ``(data [S * n_data] complex64, noise_var, n_pilots)``: the data subcarriers in
        transmit order, the post-equalisation noise variance per data symbol estimated from the pilot
        residuals after the common phase correction (NaN without pilots), and the pilots it used.
        """
        v = np.asarray(vectors, dtype=np.complex64)
        if v.ndim != 2 or v.shape[1] != self.fft_len:
            raise ValueError(f"vectors must have shape [S, {self.fft_len}], got {v.shape}")
        h = np.asarray(taps, dtype=np.complex64).reshape(-1)
        if h.size != self.fft_len:
            raise ValueError(f"taps must have {self.fft_len} values, got {h.size}")
        v = self._offset(v, carrier_offset)
        data_idx = self.shifted(self.data_carriers)
        pilot_idx = self.shifted(self.pilot_carriers)
        pilots = np.asarray(self.pilot_symbols, dtype=np.complex64)
        used = np.concatenate([data_idx, pilot_idx])
        hu = h[used]
        safe = np.where(np.abs(hu) > 0, hu, 1.0).astype(np.complex64)
        eq = v[:, used] / safe[None, :]
        n_d = data_idx.size
        data, pil = eq[:, :n_d], eq[:, n_d:]
        if pilots.size:
            cpe = np.angle((pil * pilots.conj()[None, :]).sum(axis=1))
            rot = np.exp(-1j * cpe).astype(np.complex64)[:, None]
            data = data * rot
            resid = pil * rot - pilots[None, :]
            n_p = resid.size
            # the phase fit takes one real dimension of the 2 n_p per symbol
            dof = 2 * pilots.size
            noise_var = float(np.mean(np.abs(resid) ** 2)) * dof / (dof - 1)
        else:
            n_p, noise_var = 0, float("nan")
        return data.reshape(-1).astype(np.complex64), noise_var, n_p
