#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""MFMSC transmitter: task instance PDUs in, frames of fused semantic symbols out."""

from __future__ import annotations

import numpy as np

from .base.bundles import load_mfmsc
from .base.tx import FrameTransmitter


class mfmsc_tx(FrameTransmitter):
    """Encode task instances with an MFMSC bundle (modality encoders, fusion, channel encoder) into frames.

    Message input ``pdu``: instances as ``mfmsc_source`` emits them (``meta`` with ``task`` and
    ``index``, ``speech_len`` for speech; the packed inputs as payload). Stream output: one frame per
    instance, the complex symbols of its valid tokens at unit average power, tagged on its first sample
    with ``packet_len``, ``task``, ``index`` and ``mask`` (the token mask as a u8vector: which tokens the
    frame carries, what the receiver needs to put them back), and ``bundle_id``, the task's header number
    (``TaskLink.air_id``: the bundle's id plus the task's position) for a physical layer whose header
    carries a number and a length only (``ofdm_tx``): ``mfmsc_rx`` rebuilds task and mask from those (a
    frame whose valid tokens do not come first cannot, and gets no ``bundle_id``). Instances of one task
    in a batch share a forward pass.

    Args:
        bundle_path: MFMSC bundle.
        max_batch: instances taken from the queue per ``work()`` call.
        len_tag_key: name of the frame length tag.
        torch_threads: torch intra-op threads of this block's thread; 0 keeps torch's default.

    PDUs for a task the bundle does not serve, of the wrong size, with NaN/inf values, token ids outside
    the vocabulary or a bad speech length are dropped and counted (``dropped()``, ``drop_reasons()``).
    """

    def __init__(self, bundle_path="", max_batch=64, len_tag_key="packet_len", torch_threads=1):
        from semcom_core.link.multitask import instance_size

        self.link, self.card = load_mfmsc(bundle_path)
        self.geometry = self.card["geometry"]
        self._sizes = {name: instance_size(t.modalities, self.geometry) for name, t in self.link.system.tasks.items()}
        super().__init__("semcom_mfmsc_tx", len_tag_key, max_batch, torch_threads)

    def accept(self, meta: dict, data: np.ndarray):
        task = meta.get("task")
        if task not in self._sizes:
            self.drop("unknown task", f"task {task!r}; the bundle serves {', '.join(self._sizes)}")
            return None
        if data.size != self._sizes[task]:
            self.drop("wrong instance size", f"{task}: {data.size} values, expected {self._sizes[task]}")
            return None
        if not np.isfinite(data).all():
            self.drop("non-finite values", f"NaN or inf in a {task} instance")
            return None
        return data

    def encode(self, images, metas):
        from semcom_core.link.multitask import unpack_instances

        out = [None] * len(images)
        groups: dict = {}
        for i, meta in enumerate(metas):
            groups.setdefault(meta["task"], []).append(i)
        for name, rows in groups.items():
            task = self.link.system.tasks[name]
            batch = unpack_instances([images[i] for i in rows], [metas[i] for i in rows], task.modalities,
                                     self.geometry)
            for i, frame in zip(rows, self.link.transmit(name, batch)):
                tags = {"task": name, "mask": frame.mask.astype(np.uint8)}
                if self.link.is_prefix(frame.mask):      # the length alone tells the mask: fit for OFDM
                    tags["bundle_id"] = self.link.air_id(name)
                if "index" in metas[i]:
                    tags["index"] = metas[i]["index"]
                out[i] = (frame.symbols, tags)
        return [frame for frame in out if frame is not None]
