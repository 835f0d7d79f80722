#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""OFDM burst transmitter for semantic symbols: many images behind one preamble and one coded header."""

from __future__ import annotations

import math

import numpy as np

from .base.limits import MAX_SYMBOL_POWER, mean_power
from .base.mapper import FrameMapper
from .base.stream import set_min_output_buffer_quietly, sound_frames


def make_layout(fft_len, cp_len):
    from semcom_core.link.air import BurstLayout
    from semcom_core.symbols.ofdm import OfdmLayout

    return BurstLayout(OfdmLayout(int(fft_len), int(cp_len)))


class ofdm_tx(FrameMapper):
    """Payload frames (tagged stream of complex symbols) in; OFDM bursts out.

    The frames at hand (up to ``max_burst`` of them, and no more than fit ``max_burst_samples``) go out
    as one burst (``semcom_core.link.air``): preamble, LDPC-coded header (bundle id, first sequence
    number, image count, length, end, q), the images' quantiser ranges when quantised, the images'
    symbols one after another. Frames never wait for company: a burst holds what the upstream block
    delivered together (a semantic transmitter's batch), so the latency is one burst's airtime. Frames
    that differ in length, q, end or bundle, or whose indices do not follow on, start a new burst.

    Each burst is followed by ``gap`` zero samples and tagged ``len_tag_key`` = its length (gap included:
    a USRP sink with that length tag name sends it as one burst).

    Args:
        fft_len, cp_len: OFDM symbol (``OfdmLayout``).
        amplitude: RMS amplitude (1.0 for simulation; about 0.1 to 0.3 for a USRP).
        gap: zero samples after each burst.
        len_tag_key: length tag of the input frames and the output bursts.
        max_burst: most images per burst (1: one image a burst).
        max_burst_samples: longest burst (the receiver's limit must be at least this).

    Getters: ``sent()`` (images), ``bursts()``, ``samples_sent()``, ``dropped()``, ``drop_reasons()``,
    ``layout``.
    """

    failure = "framer failure"

    def __init__(self, fft_len=64, cp_len=16, amplitude=1.0, gap=32, len_tag_key="packet_len", max_burst=32,
                 max_burst_samples=1 << 16):
        super().__init__("semcom_ofdm_tx", [np.complex64], len_tag_key, len_tag_key)
        self.layout = make_layout(fft_len, cp_len)
        if not (math.isfinite(float(amplitude)) and float(amplitude) > 0):
            raise ValueError(f"amplitude must be > 0, got {amplitude!r}")
        if int(gap) < 0:
            raise ValueError(f"gap must be >= 0 samples, got {gap!r}")
        if not 1 <= int(max_burst) <= 255:
            raise ValueError(f"max_burst must be in 1..255 images, got {max_burst!r}")
        if int(max_burst_samples) < self.layout.shape(1, 1, 16).samples:
            raise ValueError(f"max_burst_samples={max_burst_samples} cannot hold even one image")
        self.amplitude, self.gap = float(amplitude), int(gap)
        self.max_burst, self.max_burst_samples = int(max_burst), int(max_burst_samples)
        self._counter = 0
        self._sent = self._bursts = self._samples = 0
        set_min_output_buffer_quietly(self, 2 * self.max_burst_samples)

    def sent(self) -> int:
        return self._sent

    def bursts(self) -> int:
        return self._bursts

    def samples_sent(self) -> int:
        """Samples of the bursts written so far (gaps included)."""
        return self._samples

    def output_size(self, seg) -> int:
        """An upper bound of a frame's share of a burst: a burst of its own."""
        q = 16
        return self.layout.shape(1, max(1, seg.length), q).samples + self.gap

    def _image(self, seg, samples):
        """``(key, side, index)`` of a frame from its tags; ValueError when they do not fit a burst."""
        from semcom_core.link.air import BurstHeader
        from semcom_core.link.air.header import float16_range
        from semcom_core.symbols import SideInfo
        from semcom_core.symbols.sideinfo import tag_value

        index = tag_value(seg.tags, "index", int, self._counter)
        if not 0 <= index < 2**63:
            raise ValueError(f"index {index} is not a frame number (0 .. 2^63 - 1)")
        index %= 65536
        side = SideInfo.from_tags(seg.tags, frame_length=seg.length)
        key = (tag_value(seg.tags, "bundle_id", int, 0), seg.length, int(side.q), int(side.end))
        why = BurstHeader(bundle_id=key[0], seq=index, count=1, length=key[1], end=key[3], q=key[2]).problem()
        if why:
            raise ValueError(why)
        if key[2] and not all(map(math.isfinite, float16_range(side.z_min, side.z_max))):
            raise ValueError("a quantiser range bound exceeds float16 (|z| > 65504)")
        self._counter = index + 1
        return key, side, index

    def _bursts_of(self, images):
        """Group ``(key, side, index, samples)`` into bursts of consecutive, alike images."""
        group = []
        for image in images:
            if group:
                key0, _, index0, _ = group[0]
                limit = min(self.max_burst, self.layout.max_count(key0[1], key0[2], self.max_burst_samples))
                follows = image[2] == (index0 + len(group)) % 65536
                if image[0] != key0 or not follows or len(group) >= limit:
                    yield group
                    group = []
            group.append(image)
        if group:
            yield group

    def _burst(self, group) -> np.ndarray:
        from semcom_core.link.air import BurstHeader, modulate_burst

        (bundle, length, q, end), _, first, _ = group[0]
        header = BurstHeader(bundle_id=bundle, seq=first, count=len(group), length=length, end=end, q=q)
        ranges = [(float(side.z_min), float(side.z_max)) for _, side, _, _ in group] if q else None
        samples = modulate_burst(self.layout, header, [s for *_, s in group], ranges, self.amplitude)
        return np.concatenate([samples, np.zeros(self.gap, np.complex64)])

    def map_frames(self, segments, inp) -> list:
        images = []
        for seg in sound_frames(self._log, segments, self._in_key_name):
            samples = inp[seg.start: seg.start + seg.length]
            power = mean_power(samples)
            if not np.isfinite(power):
                self.drop("non-finite samples", "NaN or inf in the frame")
                continue
            if power > MAX_SYMBOL_POWER:
                self.drop("implausible symbol power", f"mean power {power:.3g}, symbols have unit average power")
                continue
            try:
                key, side, index = self._image(seg, samples)
            except ValueError as err:
                self.drop("side information does not fit the header", str(err))
                continue
            images.append((key, side, index, samples.copy()))
        out = []
        for group in self._bursts_of(images):
            try:
                burst = self._burst(group)
            except Exception as err:  # noqa: BLE001 - a burst that cannot be made loses its images only
                self.drop("burst failure", repr(err), n=len(group))
                continue
            out.append((burst, {}))
            self._sent += len(group)
            self._bursts += 1
            self._samples += burst.size
        return out
