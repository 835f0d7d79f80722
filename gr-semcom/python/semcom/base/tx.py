#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The transmitters' shared machinery: image PDUs queued in, frames written out with their tags."""

from __future__ import annotations

import collections
import time

import numpy as np
import pmt
from gnuradio import gr

from .limits import MAX_SYMBOL_POWER, mean_power
from .log import DropCounter, OnceLog, use_torch_threads
from .pdu import parse_pdu, register_ports, to_tag_value
from .stream import MAX_FRAME_ITEMS, set_min_output_buffer_quietly, write_frames


class FrameTransmitter(DropCounter, gr.sync_block):
    """Base of the transmitters: message input ``pdu`` (image PDUs), a tagged stream of frames out.

    The message handler only queues PDUs; ``work()`` takes up to ``max_batch`` of them, checks each
    (:meth:`accept`), encodes the batch at once (:meth:`encode`, a subclass's) and writes the frames back
    to back, each with a ``len_tag_key`` tag of its length and its own tags on its first sample. A frame
    is written whole, in the call that takes it from the queue or a later one. PDUs that are not images,
    or fail :meth:`accept`, are dropped and counted by reason (``dropped()``, ``drop_reasons()``). The unit
    of failure is one image: a batch whose encoding fails is encoded again image by image; a frame with
    NaN, inf or implausibly large symbols, or with a tag that cannot be written (an index beyond 64 bits, a
    value that is not a number or a string), is dropped alone with its reason.
    """

    def __init__(self, name: str, len_tag_key="packet_len", max_batch=64, torch_threads=1, frame_items=0):
        gr.sync_block.__init__(self, name=name, in_sig=None, out_sig=[np.complex64])
        self.max_batch = max(1, int(max_batch))
        self.torch_threads = int(torch_threads)
        self.image_shape: tuple | None = None      # set by subclasses that check image sizes
        self._len_key = pmt.intern(str(len_tag_key))
        self._log = OnceLog(f"{name}{self.unique_id()}")
        self._queue: collections.deque = collections.deque()
        self._pending: collections.deque = collections.deque()   # (frame, tags) encoded, not yet written
        self._sent = self._received = self._symbols = 0
        set_min_output_buffer_quietly(self, max(MAX_FRAME_ITEMS, 2 * int(frame_items) * self.max_batch))
        register_ports(self, {"pdu": self._handle_pdu})

    # -- getters ---------------------------------------------------------------------------------------
    def sent(self) -> int:
        """Frames written to the output."""
        return self._sent

    def received(self) -> int:
        return self._received

    def symbols_sent(self) -> int:
        """Output symbols written (all frames, headers included)."""
        return self._symbols

    def backlog(self) -> int:
        """PDUs queued and frames encoded but not yet written."""
        return len(self._queue) + len(self._pending)

    # -- what subclasses provide -------------------------------------------------------------------------
    def accept(self, meta: dict, data: np.ndarray):
        """The PDU's image as float32 ``image_shape``, or None after counting why it is dropped."""
        n = int(np.prod(self.image_shape))
        if data.size != n:
            self.drop("wrong image size", f"got {data.size} values, the bundle expects {n} = {self.image_shape}")
            return None
        if not np.isfinite(data).all():
            self.drop("non-finite pixel values", "NaN or inf in the image PDU")
            return None
        return data.reshape(self.image_shape)

    def encode(self, images: list, metas: list) -> list:
        """``(frame complex64, tags dict)`` per image to send (images not sent are left out)."""
        raise NotImplementedError

    def written(self, frame: np.ndarray, tags: dict) -> None:
        """Called for each frame written (counters of subclasses)."""

    # -- the machinery --------------------------------------------------------------------------------------
    def _handle_pdu(self, msg):
        self._received += 1
        self._queue.append(msg)

    def _take_batch(self):
        images, metas = [], []
        while self._queue and len(images) < self.max_batch:
            try:
                meta, data = parse_pdu(self._queue.popleft())
            except ValueError as err:
                self.drop("not an image PDU", str(err))
                continue
            image = self.accept(meta, data)
            if image is not None:
                images.append(image)
                metas.append(meta)
        return images, metas

    def _encode_isolated(self, images, metas) -> list:
        """:meth:`encode` of a batch; when it fails, of each image alone (those that fail alone are dropped)."""
        try:
            return list(self.encode(images, metas))
        except Exception as err:  # noqa: BLE001 - find the images that fail
            if len(images) == 1:
                self.drop("encoder failure", repr(err))
                return []
        return [frame for image, meta in zip(images, metas) for frame in self._encode_isolated([image], [meta])]

    def _frame_ok(self, frame: np.ndarray, tags: dict) -> bool:
        """A frame may go out: finite symbols of plausible power, tags that become PMTs."""
        power = mean_power(frame)
        if not np.isfinite(power):
            self.drop("non-finite symbols", "NaN or inf in the encoded frame")
            return False
        if power > MAX_SYMBOL_POWER:
            self.drop("implausible symbol power", f"mean power {power:.3g}, symbols have unit average power")
            return False
        for key, value in tags.items():
            try:
                to_tag_value(value)
            except Exception as err:  # noqa: BLE001 - pmt raises several kinds
                self.drop("bad tag", f"{key}={value!r}: {err!r}")
                return False
        return True

    def work(self, input_items, output_items):
        out = output_items[0]
        try:
            if not self._pending:
                if not self._queue:
                    time.sleep(0.002)   # idle: let the scheduler deliver messages
                    return 0
                images, metas = self._take_batch()
                if not images:
                    return 0
                use_torch_threads(self.torch_threads)
                for frame in self._encode_isolated(images, metas):
                    if self._frame_ok(*frame):
                        self._pending.append(frame)
                if not self._pending:
                    return 0
            fitting, room = [], len(out)
            while self._pending and self._pending[0][0].size <= room:
                room -= self._pending[0][0].size
                fitting.append(self._pending.popleft())
            written = write_frames(self, out, fitting, self._len_key)
            for frame, tags in fitting:
                self._sent += 1
                self._symbols += frame.size
                self.written(frame, tags)
            return written
        except Exception as err:  # noqa: BLE001 - never raise inside work()
            self.drop("transmitter failure", repr(err))
            self._pending.clear()
            return 0
