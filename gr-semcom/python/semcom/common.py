#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Helpers shared by the semcom blocks: bundle loading, PDUs, tags and framing.

Nothing here knows about models or channels; that lives in ``semcom_core``.
The framing helpers split a tagged stream into frames the way
``gr::tagged_stream_block`` does (a ``packet_len`` tag on the first sample
gives the frame length) but tolerate broken streams: untagged samples,
frames cut short by the next tag, and frames too long to ever fit a buffer
come back as segments flagged as such instead of stalling the flowgraph.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pmt
from gnuradio import gr

#: Frames longer than this are treated as broken (they could never fit the
#: buffers the blocks ask for).
MAX_FRAME_ITEMS = 1 << 16

#: Tags the transmitter puts on the first sample of a frame besides packet_len.
FRAME_TAG_KEYS = ("index", "label", "z_min", "z_max", "snr_db")

_bundle_cache: dict = {}
_bundle_lock = threading.Lock()


def resolve_bundle_path(path) -> str:
    """``path`` itself, or for a relative path that does not exist here, the same
    path under the folder holding ``semcom_core`` (the repository root), so that
    flowgraphs naming ``bundles/...`` work from any working directory."""
    path = os.fspath(path)
    if os.path.exists(path) or os.path.isabs(path):
        return path
    try:
        import semcom_core

        candidate = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(semcom_core.__file__))), path)
    except ImportError:
        return path
    return candidate if os.path.exists(candidate) else path


def load_bundle(path):
    """Load a model bundle, shared between the blocks of one process.

    Blocks of one flowgraph (transmitter, receiver, metrics sink, image source)
    usually name the same bundle; it is read once. The cache key includes the
    modification time of ``card.json`` so a rewritten bundle is read again.

    Raises ``semcom_core.bundle.BundleError`` (a clear message) on a bad path.
    """
    from semcom_core.bundle import BundleError
    from semcom_core.bundle import load_bundle as _load

    if not str(path).strip():
        raise BundleError("no model bundle given (the bundle path is empty)")
    real = os.path.realpath(resolve_bundle_path(path))
    card = os.path.join(real, "card.json")
    try:
        stamp = (os.stat(card).st_mtime_ns, os.stat(os.path.join(real, "weights.safetensors")).st_mtime_ns)
    except OSError:
        stamp = None
    key = (real, stamp)
    with _bundle_lock:
        if stamp is not None and key in _bundle_cache:
            return _bundle_cache[key]
        bundle = _load(real)
        if stamp is not None:
            _bundle_cache[key] = bundle
        return bundle


def dataset_of(bundle) -> tuple[str, str | None]:
    """(dataset name, root or None) from a bundle card."""
    ds = bundle.card.get("dataset")
    if isinstance(ds, dict):
        return str(ds["name"]), ds.get("root")
    if isinstance(ds, str):
        return ds, None
    raise ValueError("bundle card has no dataset name")


def make_codec(bundle, quant_bits: int):
    """The symbol codec a block uses.

    ``quant_bits`` > 0: ``SymbolCodec(quant_bits)``; 0: analog symbols
    (``SymbolCodec(None)``); < 0: the bundle's own codec (its card's ``q``).
    """
    from semcom_core.symbols import SymbolCodec

    quant_bits = int(quant_bits)
    if quant_bits < 0:
        return bundle.codec
    return SymbolCodec(quant_bits if quant_bits > 0 else None)


class OnceLog:
    """Counts problems by reason and logs each reason only the first time."""

    def __init__(self, name: str):
        self.logger = gr.logger(name)
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def problem(self, reason: str, detail: str = "", n: int = 1) -> None:
        with self._lock:
            first = reason not in self.counts
            self.counts[reason] = self.counts.get(reason, 0) + n
        if first:
            msg = reason if not detail else f"{reason}: {detail}"
            self.logger.warn(f"{msg} (further cases are counted, not logged)")

    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())


# ---------------------------------------------------------------------------
# PDUs
# ---------------------------------------------------------------------------

def make_pdu(meta: dict, values: np.ndarray):
    """``cons(meta dict, f32vector)``."""
    flat = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
    return pmt.cons(pmt.to_pmt(meta), pmt.init_f32vector(flat.size, flat.tolist()))


def parse_pdu(pdu) -> tuple[dict, np.ndarray]:
    """(meta dict, float32 payload) of an image PDU; ``ValueError`` when it is not one."""
    if not pmt.is_pair(pdu):
        raise ValueError("message is not a PDU (pair of metadata and vector)")
    car, cdr = pmt.car(pdu), pmt.cdr(pdu)
    if pmt.is_null(car):
        meta = {}
    elif pmt.is_dict(car):
        meta = pmt.to_python(car)
        if not isinstance(meta, dict):
            raise ValueError("PDU metadata is not a dictionary")
    else:
        raise ValueError("PDU metadata is not a dictionary")
    if pmt.is_f32vector(cdr):
        data = np.asarray(pmt.f32vector_elements(cdr), dtype=np.float32)
    elif pmt.is_f64vector(cdr):
        data = np.asarray(pmt.f64vector_elements(cdr), dtype=np.float32)
    elif pmt.is_u8vector(cdr):
        data = np.asarray(pmt.u8vector_elements(cdr), dtype=np.float32) / 255.0
    else:
        raise ValueError("PDU payload is not an f32vector")
    return meta, data


def scalar(value):
    """A plain Python int/float/str/bool for metadata values (numpy scalars included)."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def to_tag_value(value):
    """PMT for a tag value: ints as longs, reals as doubles, the rest via to_pmt."""
    value = scalar(value)
    if isinstance(value, bool):
        return pmt.from_bool(value)
    if isinstance(value, int):
        return pmt.from_long(value)
    if isinstance(value, float):
        return pmt.from_double(value)
    return pmt.to_pmt(value)


# ---------------------------------------------------------------------------
# Framing of tagged streams
# ---------------------------------------------------------------------------

@dataclass
class Segment:
    """A run of samples in a work() window.

    ``start``/``length`` are relative to the window. ``announced`` is the
    packet_len tag value (None for untagged samples). ``ok`` is True for a
    well-formed frame: tagged and exactly as long as announced.
    """

    start: int
    length: int
    announced: int | None
    ok: bool
    tags: dict = field(default_factory=dict)


def _as_length(value) -> int | None:
    try:
        if pmt.is_integer(value) or pmt.is_uint64(value):
            n = pmt.to_uint64(value) if pmt.is_uint64(value) else pmt.to_long(value)
        elif pmt.is_real(value):
            x = pmt.to_double(value)
            if not math.isfinite(x) or x != int(x):
                return None
            n = int(x)
        else:
            return None
    except Exception:  # noqa: BLE001 - any malformed value is "no length"
        return None
    return int(n) if n > 0 else None


def split_frames(len_tags, ninput: int, max_frame: int = MAX_FRAME_ITEMS):
    """Split a window of ``ninput`` samples into segments.

    Args:
        len_tags: ``(relative offset, packet_len pmt)`` pairs, any order.
        ninput: samples available.
        max_frame: a tag announcing more than this marks a broken frame.

    Returns ``(segments, consumed)``: every segment lies in ``[0, consumed)``;
    a frame whose end has not arrived yet stops the split (it is processed by
    a later call), unless it could never complete.
    """
    by_offset = {}
    for rel, value in len_tags:
        by_offset[int(rel)] = value  # the last tag at an offset wins
    starts = sorted(o for o in by_offset if 0 <= o < ninput)
    segments: list[Segment] = []
    pos = 0
    idx = 0
    while pos < ninput:
        if idx < len(starts) and starts[idx] == pos:
            nxt = starts[idx + 1] if idx + 1 < len(starts) else None
            announced = _as_length(by_offset[pos])
            if announced is None or announced > max_frame:
                # unusable length: everything up to the next tag is one broken segment
                end = nxt if nxt is not None else ninput
                segments.append(Segment(pos, end - pos, announced, False))
            elif nxt is not None and nxt < pos + announced:
                end = nxt  # cut short by the next frame
                segments.append(Segment(pos, end - pos, announced, False))
            elif pos + announced > ninput:
                break  # wait for the rest of this frame
            else:
                end = pos + announced
                segments.append(Segment(pos, announced, announced, True))
            idx += 1
            pos = end
        else:
            end = starts[idx] if idx < len(starts) else ninput
            segments.append(Segment(pos, end - pos, None, False))  # untagged samples
            pos = end
    return segments, pos


def window_len_tags(block, ninput: int, key):
    """``(relative offset, value)`` of the ``key`` tags in the block's input window."""
    base = block.nitems_read(0)
    return [(t.offset - base, t.value) for t in block.get_tags_in_window(0, 0, ninput, key)]


def tags_at_starts(block, consumed: int, segments) -> None:
    """Fill ``segment.tags`` with the python values of all tags on each segment's first sample."""
    if consumed <= 0:
        return
    base = block.nitems_read(0)
    firsts = {s.start: s for s in segments}
    for t in block.get_tags_in_window(0, 0, consumed):
        seg = firsts.get(t.offset - base)
        if seg is None:
            continue
        key = pmt.symbol_to_string(t.key) if pmt.is_symbol(t.key) else None
        if key is None:
            continue
        try:
            value = pmt.to_python(t.value)
        except Exception:  # noqa: BLE001 - unknown PMT types are skipped
            continue
        seg.tags.setdefault(key, []).append(value)


def complete_frames(block, n: int, len_key):
    """The frames wholly inside the first ``n`` input items, for a receiver's ``general_work``.

    Returns ``(segments, consumed)`` with the frame tags copied to the segment starts, or None
    (after a short sleep) while a frame is still arriving.
    """
    segments, consumed = split_frames(window_len_tags(block, n, len_key), n)
    if consumed == 0:
        time.sleep(0.0005)
        return None
    tags_at_starts(block, consumed, segments)
    return segments, consumed


def frames_that_fit(segments, room: int, size_of):
    """The leading ``segments`` whose outputs (``size_of(segment)`` items; 0 for broken segments) fit
    in ``room`` items, and the input items they span: ``(taken, consumed)``.

    A block that consumes a frame must write it in the same call: frames held back after their input
    was consumed would never be written once the upstream stream has ended.
    """
    taken, consumed = [], 0
    for seg in segments:
        size = size_of(seg) if seg.ok else 0
        if size > room:
            break
        room -= size
        consumed = seg.start + seg.length
        taken.append(seg)
    return taken, consumed


def sound_frames(log, segments, len_key_name: str) -> list:
    """The well-formed ``segments``; untagged runs and truncated frames are counted on ``log``."""
    sound = []
    for seg in segments:
        if seg.announced is None:
            log.problem("untagged samples", f"{seg.length} samples without a {len_key_name} tag")
        elif not seg.ok:
            log.problem("truncated frame", f"{seg.length} samples where {len_key_name} announced {seg.announced}")
        else:
            sound.append(seg)
    return sound


def write_frames(block, out, frames, len_key) -> int:
    """Write ``(data, tags)`` frames back to back from the start of ``out``, each with a ``len_key``
    tag of its length and its ``tags`` (name -> value) on its first item; returns the items written."""
    written, base = 0, block.nitems_written(0)
    for data, tags in frames:
        out[written: written + data.size] = data
        block.add_item_tag(0, base + written, len_key, pmt.from_long(data.size))
        for key, value in tags.items():
            block.add_item_tag(0, base + written, pmt.intern(key), to_tag_value(value))
        written += data.size
    return written


def set_min_output_buffer_quietly(block, items: int) -> None:
    """``block.set_min_output_buffer(items)`` without GNU Radio's info line for it."""
    logger = getattr(block, "logger", None)
    level = None
    try:
        level = logger.get_string_level()
        logger.set_level("warn")
    except Exception:  # noqa: BLE001 - logging is cosmetic
        level = None
    try:
        block.set_min_output_buffer(int(items))
    finally:
        if level is not None:
            logger.set_level(level)


def use_torch_threads(threads: int) -> None:
    """Set torch's intra-op threads for the calling thread (a block's scheduler thread).

    GNU Radio already runs every block in a thread of its own, so one torch
    thread per block avoids oversubscribing the cores. 0 leaves torch's default.
    """
    if threads and threads > 0:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(int(threads))


def frame_meta(seg, skip=()) -> dict:
    """A frame's scalar tags (the last value of each key) as PDU metadata, without the keys in ``skip``."""
    meta = {}
    for key, values in seg.tags.items():
        if key in skip or not values:
            continue
        value = scalar(values[-1])
        if isinstance(value, (int, float, str, bool)):
            meta[key] = value
    return meta


def tagged_payload(seg, samples: np.ndarray, bundle_id: int | None = None):
    """``(payload, SideInfo)`` of a payload-only frame whose side information came as tags (``q``,
    ``end``, ``z_min``, ``z_max``, ``bundle_id``, as ``ofdm_rx`` writes them), or a ``FrameError``.

    ``samples`` is the frame; the payload is its first ``end`` symbols (a frame with ``end`` 0 is one
    placeholder symbol). A ``bundle_id`` tag other than 0 must equal ``bundle_id`` when one is given.
    """
    from semcom_core.symbols import FrameError, SideInfo

    def value(key, kind, default=None):
        values = seg.tags.get(key)
        if not values:
            if default is None:
                raise FrameError("missing side information", f"no {key} tag on the frame")
            return default
        if len({repr(v) for v in values}) != 1:
            raise FrameError("contradictory side information", f"{len(values)} different {key} tags")
        try:
            return kind(values[0])
        except (TypeError, ValueError) as err:
            raise FrameError("contradictory side information", f"{key} tag {values[0]!r} is not a number") from err

    try:
        side = SideInfo(q=value("q", int, 0), end=value("end", int),
                        z_min=value("z_min", float, 0.0), z_max=value("z_max", float, 0.0))
        sender = value("bundle_id", int, 0)
    except FrameError as err:
        return err
    if bundle_id is not None and sender not in (0, int(bundle_id)):
        return FrameError("bundle mismatch", f"frame from bundle id {sender}, this receiver has {int(bundle_id)}")
    if len(samples) != max(side.end, 1) or side.end < 0:
        return FrameError("payload length mismatch", f"{len(samples)} payload symbols but end={side.end}")
    if not np.isfinite(samples).all():
        return FrameError("non-finite samples", "NaN or inf in the frame")
    return np.asarray(samples[: side.end], dtype=np.complex64), side


class FrameQueueBlock:
    """Getters and the PDU handler shared by transmitters that queue image PDUs
    and write frames (``jscc_tx``, ``digital_tx``).

    The block sets ``_log`` (an :class:`OnceLog` of dropped PDUs), ``_queue``
    (a deque), ``_pending`` (None or ``[symbols, tags, next row]``), ``_sent``
    and ``_received``, and registers ``_handle_pdu`` on its ``pdu`` port.
    """

    def dropped(self) -> int:
        """PDUs dropped (wrong size, non-finite values, not a PDU)."""
        return self._log.total()

    def drop_reasons(self) -> dict:
        return dict(self._log.counts)

    def sent(self) -> int:
        """Frames written to the output."""
        return self._sent

    def received(self) -> int:
        return self._received

    def backlog(self) -> int:
        """PDUs queued and frames encoded but not yet written."""
        pending = 0 if self._pending is None else len(self._pending[1]) - self._pending[2]
        return len(self._queue) + pending

    def _image_ok(self, data: np.ndarray) -> bool:
        """True for an image PDU payload of the bundle's size with finite values; else counted."""
        if data.size != self.n:
            self._log.problem("wrong image size", f"got {data.size} values, the bundle expects {self.n} = {self.image_shape}")
            return False
        if not np.isfinite(data).all():
            self._log.problem("non-finite pixel values", "NaN or inf in the image PDU")
            return False
        return True

    def _handle_pdu(self, msg):
        self._received += 1
        self._queue.append(msg)

    def _queued_pdus(self):
        """``(meta, values)`` of the queued PDUs, oldest first; a message that is not a PDU is
        dropped and counted. A PDU leaves the queue only when the caller asks for the next one."""
        while self._queue:
            msg = self._queue.popleft()
            try:
                yield parse_pdu(msg)
            except ValueError as err:
                self._log.problem("not an image PDU", str(err))
