#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Learned transmitter: image PDUs in, a tagged stream of channel symbols out."""

from __future__ import annotations

import collections
import threading
import time

import numpy as np
import pmt
from gnuradio import gr

from . import common


class jscc_tx(common.FrameQueueBlock, gr.sync_block):
    """Encode image PDUs into frames of k unit-power complex symbols.

    Message input ``pdu``: ``cons(meta, f32vector of C*H*W values in [0,1])``
    (as emitted by ``image_source``). Stream output: complex64, one frame of
    ``k`` symbols per image, with tags on the first sample of each frame:
    ``packet_len`` (k; the key is the ``len_tag_key`` argument), ``index``
    and ``label`` (when the metadata has them) and, with quantisation,
    ``z_min``/``z_max`` (the quantiser's side information).

    Args:
        bundle_path: exported model bundle directory.
        quant_bits: 0 analog symbols; q > 0 the q-bit quantiser and
            2^(2q)-QAM mapper (``SymbolCodec(q)``); -1 the bundle's own setting.
        max_batch: images encoded in one forward pass.
        len_tag_key: name of the frame length tag.
        torch_threads: torch intra-op threads of this block's thread (GNU Radio
            runs blocks in parallel already); 0 keeps torch's default.

    The message handler only queues PDUs; ``work()`` encodes everything queued
    (up to ``max_batch``) at once. PDUs of the wrong size or with non-finite
    values are dropped and counted (``dropped()``), each reason logged once.
    """

    def __init__(self, bundle_path="", quant_bits=0, max_batch=64, len_tag_key="packet_len",
                 torch_threads=1):
        gr.sync_block.__init__(self, name="semcom_jscc_tx", in_sig=None, out_sig=[np.complex64])
        self.bundle = common.load_bundle(bundle_path)
        self.codec = common.make_codec(self.bundle, quant_bits)
        self.k = int(self.bundle.k)
        self.image_shape = tuple(int(x) for x in self.bundle.image_shape)
        self.n = int(np.prod(self.image_shape))
        self.max_batch = max(1, int(max_batch))
        self.torch_threads = int(torch_threads)
        self._len_key = pmt.intern(str(len_tag_key))
        self._keys = {name: pmt.intern(name) for name in common.FRAME_TAG_KEYS}
        self._log = common.OnceLog(f"semcom_jscc_tx{self.unique_id()}")
        self._queue: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._pending = None       # (symbols [B,k] complex64, list of tag dicts, next row)
        self._sent = 0
        self._received = 0
        self.set_output_multiple(self.k)
        common.set_min_output_buffer_quietly(self, max(common.MAX_FRAME_ITEMS, 2 * self.k * self.max_batch))
        self.message_port_register_in(pmt.intern("pdu"))
        self.set_msg_handler(pmt.intern("pdu"), self._handle_pdu)

    # -- message handling (getters and _handle_pdu: common.FrameQueueBlock) -----
    def _take_batch(self):
        """Parse up to max_batch queued PDUs; returns (images [B,C,H,W] float32, metas)."""
        images, metas = [], []
        for meta, data in self._queued_pdus():
            if not self._image_ok(data):
                continue
            images.append(data)
            metas.append(meta)
            if len(images) == self.max_batch:
                break
        if not images:
            return None, None
        return np.stack(images).reshape((len(images),) + self.image_shape), metas

    def _encode(self, images: np.ndarray):
        import torch

        common.use_torch_threads(self.torch_threads)
        with torch.no_grad():
            z = self.bundle.encode(torch.from_numpy(images))
            s, side = self.codec.to_symbols(z)
        s = s.detach().to(torch.complex64).cpu().numpy()
        side = {key: value.detach().cpu().numpy().reshape(-1) for key, value in side.items()}
        return s, side

    def work(self, input_items, output_items):
        out = output_items[0]
        try:
            if self._pending is None:
                images, metas = self._take_batch()
                if images is None:
                    time.sleep(0.002)   # idle: let the scheduler deliver messages
                    return 0
                try:
                    symbols, side = self._encode(images)
                except Exception as err:  # noqa: BLE001 - a failing batch is dropped, not raised
                    self._log.problem("encoder failure", repr(err), n=len(metas))
                    return 0
                tags = []
                for row, meta in enumerate(metas):
                    t = {}
                    for key in ("index", "label"):
                        if key in meta:
                            t[key] = meta[key]
                    for key, values in side.items():
                        t[key] = float(values[row])
                    tags.append(t)
                self._pending = [symbols, tags, 0]
            symbols, tags, row = self._pending
            nframes = min(len(tags) - row, len(out) // self.k)
            if nframes <= 0:
                return 0
            k = self.k
            out[: nframes * k] = symbols[row: row + nframes].reshape(-1)
            base = self.nitems_written(0)
            len_value = pmt.from_long(k)
            for j in range(nframes):
                offset = base + j * k
                self.add_item_tag(0, offset, self._len_key, len_value)
                for key, value in tags[row + j].items():
                    self.add_item_tag(0, offset, self._keys.get(key) or pmt.intern(key),
                                      common.to_tag_value(value))
            row += nframes
            self._pending = None if row >= len(tags) else [symbols, tags, row]
            self._sent += nframes
            return nframes * k
        except Exception as err:  # noqa: BLE001 - never raise inside work()
            self._log.problem("encoder failure", repr(err))
            self._pending = None
            return 0
