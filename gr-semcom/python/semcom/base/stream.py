#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Tagged streams of frames: splitting a work() window into frames, writing frames, tagged sources.

The splitting works the way ``gr::tagged_stream_block`` does (a ``packet_len`` tag on the first sample
gives the frame length) but tolerates broken streams: untagged samples, frames cut short by the next tag,
and frames too long to ever fit a buffer come back as segments flagged as such instead of stalling the
flowgraph.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pmt
from gnuradio import blocks, gr

from .pdu import scalar, to_tag_value

#: Frames longer than this are treated as broken (they could never fit the buffers the blocks ask for).
MAX_FRAME_ITEMS = 1 << 16


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


def frames_for_output(block, n: int, room: int, len_key, size_of):
    """For a block that turns input frames into output frames: the complete frames among the first ``n``
    input items whose outputs fit in ``room`` (:func:`frames_that_fit`), as ``(segments, consumed)``, or
    None while a frame is still arriving."""
    frames = complete_frames(block, n, len_key)
    return None if frames is None else frames_that_fit(frames[0], room, size_of)


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
    values: dict = {}          # the frames of a burst share most values: one PMT each
    for data, tags in frames:
        out[written: written + data.size] = data
        block.add_item_tag(0, base + written, len_key, pmt.from_long(data.size))
        for key, value in tags.items():
            try:
                pmt_value = values.get((type(value), value))
                if pmt_value is None:
                    pmt_value = values[(type(value), value)] = to_tag_value(value)
            except TypeError:              # an unhashable value
                pmt_value = to_tag_value(value)
            block.add_item_tag(0, base + written, _interned(key), pmt_value)
        written += data.size
    return written


@functools.lru_cache(maxsize=256)
def _interned(key: str):
    return pmt.intern(key)


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


def make_tag(offset: int, key: str, value) -> gr.tag_t:
    """A stream tag at ``offset`` (a PMT value, or a Python value converted by ``to_tag_value``)."""
    tag = gr.tag_t()
    tag.offset = int(offset)
    tag.key = pmt.intern(key)
    tag.value = value if isinstance(value, pmt.pmt_base) else to_tag_value(value)
    return tag


def frames_source(frames, frame_tags=None, len_tag_key="packet_len", with_len_tag=True):
    """``blocks.vector_source_c`` emitting the frames back to back.

    ``frames``: list of complex arrays; ``frame_tags``: per frame a dict of extra tags for its first
    sample. Each frame gets a ``packet_len`` tag of its own length unless ``with_len_tag`` is False (or the
    dict sets one).
    """
    data, tags, offset = [], [], 0
    frame_tags = frame_tags or [{} for _ in frames]
    for frame, extra in zip(frames, frame_tags):
        frame = np.asarray(frame, dtype=np.complex64).reshape(-1)
        extra = dict(extra)
        if with_len_tag and len_tag_key not in extra:
            extra[len_tag_key] = len(frame)
        for key, value in extra.items():
            tags.append(make_tag(offset, key, value))
        data.append(frame)
        offset += len(frame)
    samples = np.concatenate(data) if data else np.zeros(0, np.complex64)
    return blocks.vector_source_c(samples.tolist(), False, 1, tags)
