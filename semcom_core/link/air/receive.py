"""The streaming burst receiver: samples in, images with their side information out, every loss counted.

:class:`BurstReceiver` keeps the samples it has not finished with, finds bursts (:mod:`.acquire`),
waits until a burst's declared extent has arrived, demodulates it (:mod:`.demodulate`) and hands on
each image with its tags. Work is per burst: one FFT call, one header decode, one side-word decode.

Every field is checked against what was received: a burst longer than ``max_burst_samples`` is dropped
at once (its images counted) and the search goes on right after its header; a burst cut short by the
next preamble loses the images past the cut and the next burst is received normally; an image whose
samples held NaN or inf, whose side word failed, or where the signal had ended (its power is that of
noise) is dropped alone. Counters: ``images``, ``bursts``, ``drops`` (reason -> images),
``burst_failures`` (reason -> bursts whose image count is unknown: their header did not decode),
``bad_samples``.
"""

from __future__ import annotations

import collections
import math
import time
from dataclasses import dataclass, field

import numpy as np

from ...symbols.sideinfo import SideInfo
from ...units import snr_db_from_noise_var
from .acquire import Detector
from .demodulate import BurstDemodulator
from .header import BURST_FORMAT_VERSION
from .layout import BurstLayout

__all__ = ["BurstReceiver", "ReceivedImage"]


@dataclass
class ReceivedImage:
    payload: np.ndarray         # complex64 [length], equalised
    tags: dict = field(default_factory=dict)


class BurstReceiver:
    """Args:
        layout: the bursts' layout (the transmitter's).
        max_burst_samples: the longest burst accepted (a larger declared extent is a counted drop).
        threshold: coherent preamble threshold (:class:`Detector`).
        bundle_id: when not None, bursts of another bundle (id != 0) are dropped.
    """

    def __init__(self, layout: BurstLayout | None = None, max_burst_samples: int = 1 << 17,
                 threshold: float = 0.45, bundle_id: int | None = None):
        self.layout = layout or BurstLayout()
        self.detector = Detector(self.layout, threshold=threshold)
        self.demod = BurstDemodulator(self.layout)
        self.max_burst_samples = int(max_burst_samples)
        self.bundle_id = bundle_id
        lead = self.detector.span          # zeros before the stream: a burst may start at its first sample
        self._buf = np.zeros(lead, np.complex64)
        self._bad = np.zeros(lead, bool)
        self._base = -lead          # stream index of _buf[0]
        self._scan = -lead          # stream index from which to search for bursts
        self._last_failure = None   # stream index of the last preamble whose header failed
        self._pending = None        # (stream index, Demodulated) of a burst whose samples are still arriving
        self._m = np.zeros(0)       # autocorrelation metric of _buf[i] (computed once per sample)
        self._p = np.zeros(0, np.complex128)
        self.images = 0
        self.bursts = 0
        self.drops: collections.Counter = collections.Counter()
        self.burst_failures: collections.Counter = collections.Counter()
        self.bad_samples = 0
        self.latencies: collections.deque = collections.deque(maxlen=100_000)
        self.snrs: collections.deque = collections.deque(maxlen=100_000)

    @property
    def dropped(self) -> int:
        return sum(self.drops.values())

    def _drop(self, reason: str, n: int = 1) -> None:
        if n > 0:
            self.drops[reason] += int(n)

    # -- streaming -------------------------------------------------------------------------------------
    def feed(self, samples) -> list[ReceivedImage]:
        """Take the next samples of the stream; return the images completed by them."""
        t0 = time.perf_counter()
        x = np.asarray(samples, np.complex64).reshape(-1)
        bad = ~np.isfinite(x)
        if bad.any():
            self.bad_samples += int(bad.sum())
            x = np.where(bad, 0, x).astype(np.complex64)
        self._buf = np.concatenate([self._buf, x])
        self._bad = np.concatenate([self._bad, bad])
        out: list[ReceivedImage] = []
        while self._step(out, t0):
            pass
        self._trim()
        return out

    def flush(self) -> list[ReceivedImage]:
        """End of stream: pad with zeros so that a burst whose end is missing is resolved."""
        return self.feed(np.zeros(self.max_burst_samples + self.detector.span, np.complex64))

    def _trim(self) -> None:
        keep_from = max(0, self._scan - self._base - self.detector.search - 1)
        if self._pending is not None:
            keep_from = min(keep_from, self._pending[0] - self._base)
        if keep_from > 0:
            self._buf = self._buf[keep_from:]
            self._bad = self._bad[keep_from:]
            self._m, self._p = self._m[keep_from:], self._p[keep_from:]
            self._base += keep_from

    def _metric(self, lo: int, hi: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The autocorrelation metric ``(M, P)`` of buffer positions ``lo`` up to ``hi`` (default: every
        position whose samples have all arrived); each sample's is computed once, when it arrives."""
        have = self._m.size
        if self._buf.size - self.detector.lookahead + 1 > have:
            m, p = self.detector.metric(self._buf[have:])
            self._m, self._p = np.concatenate([self._m, m]), np.concatenate([self._p, p])
        return self._m[lo:hi], self._p[lo:hi]

    def _step(self, out: list, t0: float) -> bool:
        """Handle the next burst candidate; False when more samples are needed."""
        det = self.detector
        lo = self._scan - self._base
        y = self._buf
        if self._pending is not None:
            at_stream, burst = self._pending
            status = self._finish(burst, at_stream - self._base, out, t0)
            if status is None:
                return False
            self._pending = None
            self._scan = self._base + status
            return True
        m, p = self._metric(lo)
        for peak in det.candidates(m):
            at = lo + int(peak)
            if at - det.search + det.span > y.size:
                self._scan = self._base + at - det.layout.short_len      # wait for the rest of this one
                return False
            acq = det.confirm(y, at, p[peak])
            if acq is None:
                continue
            status = self._burst(acq.start, acq.cfo, out, t0)
            if status is None:                                  # its header has not all arrived
                self._scan = self._base + at - det.layout.short_len
                return False
            self._scan = max(self._base + status, self._base + at + 1)     # always forward
            return True
        self._scan = self._base + max(lo, y.size - det.lookahead - det.layout.short_len)
        return False

    # -- one burst --------------------------------------------------------------------------------------
    def _header_end(self, start: int) -> int:
        return start + self.layout.preamble_len + self.layout.header_symbols * self.layout.symbol_len

    def _burst(self, start: int, cfo: float, out: list, t0: float) -> int | None:
        """Receive the burst at buffer index ``start`` (or keep it pending until its samples have arrived);
        returns the buffer index to search on from, None when its header has not all arrived."""
        y = self._buf
        if self._header_end(start) + self.demod.backoff > y.size:
            return None
        burst = self.demod.header(y, start, cfo)
        if burst.header is None:
            # count a failed preamble once, however often its neighbourhood is tried again
            if self._last_failure is None or self._base + start - self._last_failure > self.layout.preamble_len:
                self.burst_failures[burst.reason] += 1
                self._last_failure = self._base + start
            return start + self.layout.short_period
        hdr = burst.header
        if hdr.version != BURST_FORMAT_VERSION:
            self._drop("unknown burst version", hdr.count)
            return self._header_end(start)
        shape = self.layout.shape(hdr.count, hdr.length, hdr.q)
        if shape.samples > self.max_burst_samples:
            self._drop("burst longer than the receiver accepts", hdr.count)
            return self._header_end(start)
        if self.bundle_id is not None and hdr.bundle_id not in (0, self.bundle_id):
            self._drop("burst of another bundle", hdr.count)
            return self._header_end(start)
        status = self._finish(burst, start, out, t0)
        if status is None:
            self._pending = (self._base + start, burst)
            return self._header_end(start)          # not None: the caller must not search again
        return status

    def _finish(self, burst, start: int, out: list, t0: float) -> int | None:
        """Demodulate the rest of a burst whose header decoded, once all its samples are here."""
        hdr = burst.header
        burst.start = start
        end = start + self.layout.shape(hdr.count, hdr.length, hdr.q).samples
        if end > self._buf.size:
            return None
        cut = self._next_preamble(start + self.layout.preamble_len, end, burst)
        limit = end if cut is None else cut
        self.demod.body(self._buf, burst, limit=limit)
        self.bursts += 1
        self._images(burst, start, limit, out, t0)
        # a preamble starting in the burst's last samples is checked by the next search, not here
        return limit if cut is not None else max(start + self.layout.preamble_len, end - self.detector.span)

    def _next_preamble(self, lo: int, hi: int, burst) -> int | None:
        """Start of a confirmed preamble inside ``[lo, hi)`` (the burst was cut there), else None.

        Inside a burst both thresholds are raised to what a preamble at this burst's SNR gives: half of it
        for the autocorrelation, so that payload symbols seldom need the coherent check, and three quarters
        of it for the coherent check, so that the payload is not taken for a preamble."""
        det = self.detector
        m, p = self._metric(lo, hi + 1)
        snr = burst.signal_bin / max(burst.noise_bin, 1e-30)
        floor = max(det.auto_threshold, 0.5 * snr / (1 + snr))
        coherent = max(det.threshold, 0.75 * math.sqrt(snr / (1 + snr)))
        for peak in det.candidates(m, floor):
            if peak >= hi - lo - self.layout.symbol_len:        # the next burst, after this one's end
                break
            if lo + peak - det.search + det.span > self._buf.size:
                break                                           # not all here: the next search sees it
            acq = det.confirm(self._buf, lo + int(peak), p[peak], coherent)
            if acq is not None and lo <= acq.start < hi - self.layout.symbol_len:
                return acq.start
        return None

    def _images(self, burst, start: int, limit: int, out: list, t0: float) -> None:
        hdr = burst.header
        lay = self.layout
        n_data, sym = lay.ofdm.n_data, lay.symbol_len
        shape = lay.shape(hdr.count, hdr.length, hdr.q)
        payload_start = start + lay.preamble_len + (shape.header_symbols + shape.side_symbols) * sym
        i = np.arange(hdr.count)
        lo = payload_start + (i * hdr.length // n_data) * sym                 # each image's OFDM symbols
        hi = payload_start + (-(-(i + 1) * hdr.length // n_data)) * sym
        whole = (hi <= limit) & ((i + 1) * hdr.length <= burst.payload.size)
        complete = int(np.argmin(whole)) if not whole.all() else hdr.count
        self._drop("truncated burst", hdr.count - complete)
        if not complete:
            return
        before = len(out)
        seg = slice(payload_start, int(hi[complete - 1]))
        rel_lo, rel_hi = lo[:complete] - payload_start, hi[:complete] - payload_start
        bad = np.concatenate([[0], np.cumsum(self._bad[seg])])
        power = np.concatenate([[0.0], np.cumsum(np.abs(self._buf[seg].astype(np.complex128)) ** 2)])
        has_bad = bad[rel_hi] > bad[rel_lo]
        mean_power = (power[rel_hi] - power[rel_lo]) / (rel_hi - rel_lo)
        no_signal = mean_power < self._silence_level(burst, rel_hi - rel_lo)
        nv = burst.noise_var[: complete * hdr.length].reshape(complete, hdr.length).mean(axis=1)
        snr_db = snr_db_from_noise_var(np.maximum(nv, 1e-12))
        latency = (time.perf_counter() - t0) * 1e3
        shared = {"bundle_id": hdr.bundle_id, **SideInfo(hdr.q, hdr.end).to_tags()}
        for k in range(complete):
            if has_bad[k]:
                self._drop("non-finite samples")
                continue
            tags = {"index": (hdr.seq + k) % 65536, **shared}
            if hdr.q:
                rng = burst.ranges[k]
                if rng is None:
                    self._drop("side information CRC failure")
                    continue
                tags.update(SideInfo(hdr.q, hdr.end, *rng).to_tags())
            if no_signal[k]:
                self._drop("no signal where the burst declared images")
                continue
            tags.update(noise_var=float(nv[k]), snr_db=float(snr_db[k]), rx_latency_ms=latency)
            out.append(ReceivedImage(burst.payload[k * hdr.length: (k + 1) * hdr.length], tags))
        self.latencies.extend([latency] * (len(out) - before))
        self.snrs.extend(t.tags["snr_db"] for t in out[before:])
        self.images += len(out) - before

    def _silence_level(self, burst, n: np.ndarray) -> np.ndarray:
        """Mean sample power below which ``n`` samples are clearly noise alone: 4 sigma above the noise and
        5 sigma below signal plus noise (0 where the SNR is too low to tell the two apart)."""
        fft_len = self.layout.fft_len
        s = burst.signal_bin * self.layout.ofdm.n_used / fft_len ** 2        # numpy FFT scaling back to samples
        w = burst.noise_bin / fft_len
        if not (math.isfinite(s) and math.isfinite(w)):
            return np.zeros(n.shape)
        root = np.sqrt(np.maximum(n, 1))
        return np.maximum(0.0, np.minimum(w * (1 + 4 / root), (s + w) * (1 - 5 / root)))
