#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Semantic transmitters and receivers: a bundle's link (``semcom_core.link``) between PDUs and frames.

A frame is a payload of ``end`` symbols with its :class:`~semcom_core.symbols.SideInfo`, carried either in
a header in front of the payload (``inline_header``: ``semcom_core.symbols.frame_symbols``) or as stream
tags (``SideInfo.to_tags`` plus ``bundle_id``), as a physical layer with a header of its own (``ofdm_tx``)
wants them. A frame whose mask switched every symbol off (``end`` 0) is one zero symbol.
"""

from __future__ import annotations

import collections

import numpy as np

from .bundles import load_bundle, resolve_precision
from .limits import MAX_SYMBOL_POWER, mean_power
from .rx import FrameReceiver
from .tx import FrameTransmitter

#: Frame log entries kept by a receiver (``frame_log()``: the newest ones).
FRAME_LOG_MAX = 100_000


def _header_symbols(inline_header: bool) -> int:
    from semcom_core.symbols import HEADER_SYMBOLS

    return int(HEADER_SYMBOLS) if inline_header else 0


def _check_power(samples) -> None:
    from semcom_core.symbols import FrameError

    power = mean_power(samples)
    if not power <= MAX_SYMBOL_POWER:
        raise FrameError("implausible amplitude", f"mean power {power:.3g}; symbols have unit average power")


class SemanticTransmitter(FrameTransmitter):
    """Image PDUs -> frames of a bundle's semantic symbols (see the module docstring).

    Tags on each frame's first sample: ``index`` and ``label`` (from the PDU metadata), ``end``, and
    without ``inline_header`` the rest of the side information (``q``, ``z_min``, ``z_max``) and, with
    ``tag_bundle_id``, ``bundle_id``; subclasses add theirs (:meth:`extra_tags`). Side information that
    a receiver assumes anyway (``q`` 0, ``end`` equal to the frame length) is not tagged.
    """

    def __init__(self, name, bundle_path="", quant_bits=-1, adaptive=True, inline_header=False, max_batch=64,
                 len_tag_key="packet_len", torch_threads=1, tag_bundle_id=True, precision="auto"):
        self.bundle = load_bundle(bundle_path)
        self.precision = resolve_precision(precision)
        self.quant_bits = int(quant_bits)
        self.link = self.bundle.link(self.quant_bits)
        self.k = int(self.bundle.k)
        self.inline_header = bool(inline_header)
        self.header_symbols = _header_symbols(self.inline_header)
        self.adaptive = bool(adaptive)
        self.bundle_id = int(self.bundle.bundle_id)
        self.tag_bundle_id = bool(tag_bundle_id)
        super().__init__(name, len_tag_key, max_batch, torch_threads, self.k + self.header_symbols)
        self.image_shape = tuple(int(x) for x in self.bundle.image_shape)
        self.n = int(np.prod(self.image_shape))

    def noise_var_for(self, meta: dict) -> float | None:
        """The noise variance the mask is told for this image (None: the bundle's default)."""
        return None

    def extra_tags(self, noise_var) -> dict:
        return {}

    def encode(self, images, metas):
        import torch

        from semcom_core.symbols import frame_symbols_batch

        nvs = [self.noise_var_for(meta) for meta in metas]
        groups: dict = {}
        for i, nv in enumerate(nvs):        # images told the same noise variance share a forward pass
            groups.setdefault(nv, []).append(i)
        out = [None] * len(images)
        for nv, rows in groups.items():
            x = torch.from_numpy(np.ascontiguousarray(np.stack([images[i] for i in rows])))
            sent = self.bundle.transmit(x, noise_var=nv, quant_bits=self.quant_bits, adaptive=self.adaptive,
                                        precision=self.precision)
            if self.inline_header:
                frames = frame_symbols_batch([p for p, _ in sent], [s for _, s in sent])
            else:
                frames = [p.astype(np.complex64) if len(p) else np.zeros(1, np.complex64) for p, _ in sent]
            for i, frame, (_, side) in zip(rows, frames, sent):
                tags = {key: metas[i][key] for key in ("index", "label") if key in metas[i]}
                if self.inline_header:
                    tags["end"] = int(side.end)
                else:
                    tags.update(side.to_tags())
                    if self.tag_bundle_id:
                        tags["bundle_id"] = self.bundle_id
                if tags.get("q") == 0:
                    del tags["q"]
                if not self.inline_header and tags["end"] == frame.size:
                    del tags["end"]
                tags.update(self.extra_tags(nv))
                out[i] = (frame, tags)
        return out


class SemanticReceiver(FrameReceiver):
    """Frames of semantic symbols -> PDUs of reconstructed images with the bundle's class decision.

    The side information comes from the inline header (``inline_header``) or the frame's tags; frames
    whose side information contradicts the bundle (``SideInfo.problem``), comes from another bundle
    (``bundle_id`` tag), or whose length does not match it are dropped and counted by reason. With
    ``full_frames`` every frame must carry all k symbols.

    PDU metadata: the frame's scalar tags, ``pred``, ``end``, ``gamma`` (end / k), ``symbols`` (frame
    length) and ``seq``. ``frame_log()``: per decoded frame ``{index, label, pred, end, symbols, snr_db,
    tx_noise_var}``, the newest ``FRAME_LOG_MAX``.
    """

    META_SKIP = ("q", "z_min", "z_max")

    def __init__(self, name, bundle_path="", quant_bits=-1, inline_header=False, max_batch=64,
                 len_tag_key="packet_len", torch_threads=2, full_frames=False, precision="auto"):
        super().__init__(name, len_tag_key, max_batch, torch_threads)
        self.bundle = load_bundle(bundle_path)
        self.precision = resolve_precision(precision)
        self.quant_bits = int(quant_bits)
        self.q = self.bundle.link(self.quant_bits).q
        self.k = int(self.bundle.k)
        self.inline_header = bool(inline_header)
        self.header_symbols = _header_symbols(self.inline_header)
        self.full_frames = bool(full_frames)
        self.bundle_id = int(self.bundle.bundle_id)
        self._frame_log: collections.deque = collections.deque(maxlen=FRAME_LOG_MAX)

    def frame_log(self) -> list:
        return list(self._frame_log)

    def _from_tags(self, seg, samples):
        """``(payload, SideInfo)`` of a payload-only frame whose side information came as tags."""
        from semcom_core.symbols import FrameError, SideInfo
        from semcom_core.symbols.sideinfo import tag_value

        side = SideInfo.from_tags(seg.tags, frame_length=len(samples))
        sender = tag_value(seg.tags, "bundle_id", int, 0)
        if sender not in (0, self.bundle_id):
            raise FrameError("bundle mismatch", f"frame from bundle id {sender}, this receiver has {self.bundle_id}")
        if side.end < 0 or len(samples) != max(side.end, 1):
            raise FrameError("payload length mismatch", f"{len(samples)} payload symbols but end={side.end}")
        if not np.isfinite(samples).all():
            raise FrameError("non-finite samples", "NaN or inf in the frame")
        _check_power(samples)
        return np.asarray(samples[: side.end], dtype=np.complex64), side

    def parse(self, segments, samples):
        from semcom_core.symbols import FrameError, parse_frames

        out = [FrameError("truncated frame", f"{s.length} samples where the length tag announced {s.announced}")
               if not s.ok else None for s in segments]
        todo = [i for i, r in enumerate(out) if r is None]
        if self.full_frames:
            for i in todo:
                if segments[i].length != self.k:
                    out[i] = FrameError("wrong frame length", f"{segments[i].length} samples, expected {self.k}")
            todo = [i for i in todo if out[i] is None]
        if self.inline_header:
            for i, result in zip(todo, parse_frames([samples[i] for i in todo]) if todo else []):
                out[i] = result
        else:
            for i in todo:
                try:
                    out[i] = self._from_tags(segments[i], samples[i])
                except FrameError as err:
                    out[i] = err
        for i in todo:
            if not isinstance(out[i], FrameError):
                reason = out[i][1].problem(self.k, self.q)
                if reason is not None:
                    out[i] = FrameError("inconsistent side information", reason)
                    continue
                try:
                    _check_power(samples[i])
                except FrameError as err:
                    out[i] = err
        return out

    def decode(self, frames):
        images, preds = self.bundle.receive([item for _, item in frames], quant_bits=self.quant_bits,
                                            precision=self.precision)
        out = []
        for (seg, (_, side)), image, pred in zip(frames, images, preds):
            extra = {"pred": int(pred), "end": int(side.end), "gamma": side.end / self.k, "symbols": int(seg.length)}
            log = {key: seg.tags[key][-1] for key in ("index", "label", "snr_db", "tx_noise_var") if seg.tags.get(key)}
            self._frame_log.append({**log, **extra})
            out.append((extra, image))
        return out
