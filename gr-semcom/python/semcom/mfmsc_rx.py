#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""MFMSC receiver: frames of semantic symbols in, each task's output as a PDU."""

from __future__ import annotations

import numpy as np

from .base.bundles import load_mfmsc
from .base.limits import MAX_SYMBOL_POWER, mean_power
from .base.rx import FrameReceiver


class mfmsc_rx(FrameReceiver):
    """Decode MFMSC frames (channel decoder, task head) into the task's output.

    Stream input: frames as ``mfmsc_tx`` writes them, after a channel: a ``packet_len`` tag, ``task``,
    ``index`` and the token ``mask`` on each first sample; or, after an OFDM link (``ofdm_rx``), ``index``
    and ``bundle_id`` only: the task is the one of that number and the mask the prefix the frame's length
    fills (``semcom_core.link.multitask``). Message output ``pdu``: one PDU per frame,
    ``cons(meta, f32vector)`` with ``meta = {task, index, kind, pred, symbols, seq, ...}`` and the frame's
    other scalar tags. ``pred`` is the task's decision: the class id (classification, VQA), the label bit
    mask (poster), the text (text reconstruction) or the transcript (speech recognition); for image
    reconstruction the payload is the image and ``pred`` is absent. The payload holds the head's logits
    for classification tasks and is empty for text outputs.

    Args:
        bundle_path: MFMSC bundle (the transmitter's).
        max_batch: frames decoded in one forward pass (frames of one task share it).
        len_tag_key: name of the frame length tag.
        torch_threads: torch intra-op threads of this block's thread; 0 keeps torch's default.

    Frames without a task or mask, of a task the bundle does not serve, whose length does not match
    their mask, or with NaN/inf or implausibly large symbols are dropped and counted (``dropped()``,
    ``drop_reasons()``).
    """

    META_SKIP = ("mask", "bundle_id", "q", "end", "z_min", "z_max")

    def __init__(self, bundle_path="", max_batch=64, len_tag_key="packet_len", torch_threads=1):
        self.link, self.card = load_mfmsc(bundle_path)
        super().__init__("semcom_mfmsc_rx", len_tag_key, max_batch, torch_threads)

    def parse(self, segments, samples):
        from semcom_core.link.multitask import Frame
        from semcom_core.symbols import FrameError

        out = []
        tasks = self.link.system.tasks
        for seg, frame in zip(segments, samples):
            task = seg.tags.get("task", [None])[-1]
            mask = seg.tags.get("mask", [None])[-1]
            if task is None and seg.tags.get("bundle_id"):         # after an OFDM link: the header's fields
                task = self.link.task_of_air_id(int(seg.tags["bundle_id"][-1]))
                if task is not None and mask is None:
                    try:
                        mask = self.link.prefix_mask(task, seg.length).astype(np.uint8)
                    except ValueError as err:
                        out.append(FrameError("frame length mismatch", str(err)))
                        continue
            if not seg.ok:
                out.append(FrameError("truncated frame", f"{seg.length} samples, the length tag announced "
                                                         f"{seg.announced}"))
            elif task not in tasks:
                out.append(FrameError("unknown task", f"task {task!r}; the bundle serves {', '.join(tasks)}"))
            elif not isinstance(mask, np.ndarray) or mask.ndim != 1 or mask.size == 0:
                out.append(FrameError("missing token mask", "no mask tag (u8vector) on the frame"))
            elif seg.length != int((mask != 0).sum()) * self.link.per_token:
                out.append(FrameError("frame length mismatch", f"{seg.length} symbols for {int((mask != 0).sum())} "
                                                               f"tokens of {self.link.per_token} symbols"))
            elif not np.isfinite(frame).all():
                out.append(FrameError("non-finite samples", "NaN or inf in the frame"))
            elif not mean_power(frame) <= MAX_SYMBOL_POWER:
                out.append(FrameError("implausible amplitude", f"mean power {mean_power(frame):.3g}"))
            else:
                out.append((task, Frame(np.array(frame, dtype=np.complex64), mask != 0)))
        return out

    def decode(self, frames):
        out = [None] * len(frames)
        groups: dict = {}
        for i, (_seg, (task, _frame)) in enumerate(frames):
            groups.setdefault(task, []).append(i)
        for name, rows in groups.items():
            kind = self.link.task(name).kind
            outputs, mask = self.link.receive(name, [frames[i][1][1] for i in rows])
            preds = self.link.predictions(name, outputs, mask)
            for j, (i, pred) in enumerate(zip(rows, preds)):
                extra = {"task": name, "kind": kind, "symbols": int(frames[i][0].length)}
                if kind == "image_recon":
                    values = pred.reshape(-1)
                else:
                    extra["pred"] = pred
                    values = outputs[j].reshape(-1).numpy() if kind in ("classify", "multilabel") else \
                        np.zeros(0, np.float32)
                out[i] = (extra, values)
        return out
