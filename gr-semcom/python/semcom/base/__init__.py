#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""What the semcom blocks share: bundles, PDUs and tags, tagged streams of frames, logging, and the
transmitter and receiver base classes (:mod:`.tx`, :mod:`.rx`, :mod:`.semantic`), and the sources' emitting
thread (:mod:`.emitter`)."""

from .bundles import load_bundle, resolve_bundle_path
from .log import OnceLog, use_torch_threads
from .pdu import make_pdu, parse_pdu, scalar, to_tag_value
from .stream import (MAX_FRAME_ITEMS, Segment, complete_frames, frame_meta, frames_source, frames_that_fit, make_tag,
                     set_min_output_buffer_quietly, sound_frames, split_frames, tags_at_starts, window_len_tags,
                     write_frames)

__all__ = ["MAX_FRAME_ITEMS", "OnceLog", "Segment", "complete_frames", "frame_meta", "frames_source", "frames_that_fit",
           "load_bundle", "make_pdu", "make_tag", "parse_pdu", "resolve_bundle_path", "scalar",
           "set_min_output_buffer_quietly", "sound_frames", "split_frames", "tags_at_starts", "to_tag_value",
           "use_torch_threads", "window_len_tags", "write_frames"]
