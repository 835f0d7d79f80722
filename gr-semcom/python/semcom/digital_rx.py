#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Classical digital receiver: a tagged stream of QAM symbols in, image PDUs out."""

from __future__ import annotations

import math

import numpy as np
import pmt
from gnuradio import gr

from . import common
from .digital_tx import LADDERS, make_link

_lost_images: dict = {}


def _mean_training_image(dataset: str, root) -> np.ndarray:
    """``semcom_core.baselines.images.lost_image`` as float32 [C, H, W], once per process."""
    key = (dataset, root)
    if key not in _lost_images:
        from semcom_core.baselines.images import lost_image

        _lost_images[key] = lost_image(dataset, root).numpy().astype(np.float32)
    return _lost_images[key]


class digital_rx(gr.basic_block):
    """Demap, LDPC-decode and source-decode frames into image PDUs, and classify them.

    Stream input: complex64 frames of equalised symbols as ``digital_tx``
    sends them (through ``channel``), each starting with a ``packet_len``
    tag. Message output ``pdu``: one PDU per image, in ``jscc_rx``'s format,
    ``cons(meta, f32vector of C*H*W values)`` with ``meta = {index, label,
    pred, seq, snr_db, lost, ratio, ...}``: the frame's scalar tags, ``pred``
    the decision of the bundle's classifier (the same downstream classifier
    as the semantic receiver's), ``seq`` a running count of published PDUs,
    ``lost`` (False for a delivered image) and ``ratio``, the channel uses
    per source value (``metrics_sink`` records it as the bandwidth ratio).

    Lost images: when the LDPC code fails its parity checks, the bytes do not
    decode (``SourceDecodeError``, bad length field), the frame has the wrong
    length or NaN/inf symbols, the PDU carries the training set's mean image
    (``semcom_core.baselines.images.lost_image``, the library's convention) and
    ``lost=True`` with ``lost_reason``; the classifier sees the mean image.
    Message input ``lost``: the transmitter's notices of images it could not
    send (``digital_tx``'s ``lost`` port) become such PDUs too, so a metrics
    sink sees every image.

    Noise variance for the LLRs: the ``noise_var`` tag of the channel block
    (one value per frame, or one per symbol for channels whose gain changes
    within the frame); without it ``10^(-snr_db/10)`` from the ``snr_db`` tag;
    with neither the image is lost (``no_noise_var``).

    Args:
        codec, family, rate, qam, n, channel_uses: as for ``digital_tx`` (must match it).
        bundle_path: the semantic bundle: its classifier, dataset (for the mean
            image), image shape and, with ``channel_uses`` 0, its ``k``.
        len_tag_key: name of the frame length tag.
        max_batch: frames decoded in one call.
        torch_threads: torch intra-op threads of this block's thread; 0 keeps torch's default.

    Frames without an ``index`` tag (nothing to report them against) and
    untagged samples are dropped without a PDU and counted (``dropped()``,
    ``drop_reasons()``); lost images are counted in ``lost()`` and
    ``lost_reasons()`` (broken frames among them are also logged once per
    reason); ``delivered()`` counts decoded images.
    """

    def __init__(self, codec="bpg", family="nr", rate="3/4", qam=64, n=576, channel_uses=0, bundle_path="",
                 len_tag_key="packet_len", max_batch=64, torch_threads=1):
        gr.basic_block.__init__(self, name="semcom_digital_rx", in_sig=[np.complex64], out_sig=None)
        from semcom_core.bundle import BundleError

        if not str(bundle_path).strip():
            raise BundleError("digital_rx needs a model bundle for its classifier (the bundle path is empty)")
        self.link, self.plan, self.bundle = make_link(codec, family, rate, qam, n, channel_uses, bundle_path)
        self.frame_len = int(self.plan.symbols)
        self.image_shape = tuple(int(x) for x in self.bundle.image_shape)
        self.image_size = int(np.prod(self.image_shape))
        self.ratio = float(self.plan.channel_uses) / self.image_size
        name, root = common.dataset_of(self.bundle)
        self.fallback = _mean_training_image(name, root)
        if self.fallback.shape != self.image_shape:
            raise ValueError(f"the mean image of {name} has shape {self.fallback.shape}, "
                             f"the bundle's images {self.image_shape}")
        self.source_meta = self._agreed_meta()
        self.max_batch = max(1, int(max_batch))
        self.torch_threads = int(torch_threads)
        self._len_key_name = str(len_tag_key)
        self._len_key = pmt.intern(self._len_key_name)
        self._log = common.OnceLog(f"semcom_digital_rx{self.unique_id()}")     # dropped: no PDU at all
        self._warn = common.OnceLog(f"semcom_digital_rx{self.unique_id()}")    # broken frames reported lost
        self._lost_counts: dict[str, int] = {}
        self._delivered = 0
        self._fallback_pred = None
        self._port = pmt.intern("pdu")
        self._seq = 0
        self.message_port_register_out(self._port)
        self.message_port_register_in(pmt.intern("lost"))
        self.set_msg_handler(pmt.intern("lost"), self._handle_lost)

    def _agreed_meta(self) -> dict:
        """``Encoded.meta`` of the bundle's image shape: what the codec agrees on without sending it."""
        try:
            ladder = LADDERS.ladder(self.link.codec, np.full(self.image_shape, 0.5, np.float32))
            if ladder:
                return dict(ladder[0].meta)
        except Exception:  # noqa: BLE001 - fall back to the shape, the usual image meta
            pass
        return {"shape": list(self.image_shape)}

    # -- getters -------------------------------------------------------------
    def dropped(self) -> int:
        """Frames (or runs of untagged samples) dropped without a PDU."""
        return self._log.total()

    def drop_reasons(self) -> dict:
        return dict(self._log.counts)

    def lost(self) -> int:
        """Images published as lost (mean image)."""
        return sum(self._lost_counts.values())

    def lost_reasons(self) -> dict:
        return dict(self._lost_counts)

    def delivered(self) -> int:
        """Images decoded and published."""
        return self._delivered

    def decoded(self) -> int:
        """PDUs published (delivered and lost)."""
        return self._seq

    # -- publishing ----------------------------------------------------------
    def _classify(self, images: np.ndarray) -> np.ndarray:
        import torch

        common.use_torch_threads(self.torch_threads)
        with torch.no_grad():
            return self.bundle.classify(torch.from_numpy(images)).argmax(1).cpu().numpy()

    def _publish(self, metas: list, images: list) -> None:
        """Classify and publish; ``images[i]`` None means lost (the mean image)."""
        batch = np.stack([self.fallback if im is None else im for im in images]).astype(np.float32, copy=False)
        try:
            preds = self._classify(batch)
        except Exception as err:  # noqa: BLE001 - the images still go out, without a decision
            self._warn.problem("classifier failure", repr(err))
            preds = [None] * len(metas)
        for meta, image, pred in zip(metas, batch, preds):
            if pred is not None:
                meta["pred"] = int(pred)
            meta["ratio"] = self.ratio
            meta["seq"] = self._seq
            self._seq += 1
            self.message_port_pub(self._port, common.make_pdu(meta, image))

    def _lost_meta(self, meta: dict, reason: str) -> dict:
        self._lost_counts[reason] = self._lost_counts.get(reason, 0) + 1
        meta = dict(meta)
        meta["lost"] = True
        meta["lost_reason"] = reason
        return meta

    def _handle_lost(self, msg):
        try:
            meta, _ = common.parse_pdu(msg)
        except ValueError as err:
            self._log.problem("bad lost notice", str(err))
            return
        if "index" not in meta:
            self._log.problem("lost notice without index", "cannot report it")
            return
        try:
            reason = str(meta.get("lost_reason") or "infeasible")
            keep = {key: common.scalar(value) for key, value in meta.items()
                    if key not in ("lost", "lost_reason", "shape")
                    and isinstance(common.scalar(value), (int, float, str, bool))}
            self._publish([self._lost_meta(keep, reason)], [None])
        except Exception as err:  # noqa: BLE001 - a bad notice must not stop the flowgraph
            self._log.problem("lost notice failed", repr(err))

    # -- per-frame checks ------------------------------------------------------
    def _meta(self, seg) -> dict:
        return common.frame_meta(seg, skip=(self._len_key_name,))

    def _noise_var(self, seg):
        """Noise variance per symbol ([L] float32) or None."""
        for raw in reversed(seg.tags.get("noise_var", [])):
            values = np.asarray(raw, dtype=np.float64).reshape(-1)
            if values.size in (1, self.frame_len) and np.isfinite(values).all() and (values > 0).all():
                return np.broadcast_to(values, (self.frame_len,)).astype(np.float32)
        for raw in reversed(seg.tags.get("snr_db", [])):
            try:
                snr = float(raw)
            except (TypeError, ValueError):
                continue
            if math.isfinite(snr):
                return np.full(self.frame_len, 10.0 ** (-snr / 10.0), np.float32)
        return None

    # -- processing ------------------------------------------------------------
    def _decode(self, rows: np.ndarray, noise: np.ndarray):
        import torch

        common.use_torch_threads(self.torch_threads)
        metas = [self.source_meta] * len(rows)
        return self.link.receive_frames(torch.from_numpy(rows), torch.from_numpy(noise), self.plan, metas)

    def _image(self, item):
        """A decoded item as float32 [C, H, W] in [0, 1], or None when it is not such an image."""
        image = np.asarray(item, dtype=np.float32)
        if image.size != self.image_size or not np.isfinite(image).all():
            return None
        return np.clip(image, 0.0, 1.0).reshape(self.image_shape)

    def forecast(self, noutput_items, ninputs):
        # any input will do: work() itself takes only the complete frames
        return [1] * ninputs

    def _frames(self, inp, segments):
        """(metas, rows, noise, lost) of the window: frames to decode and frames already lost, in order."""
        todo, lost = [], []   # (position, meta[, start, noise]) ; (position, meta)
        for pos, seg in enumerate(segments):
            if seg.announced is None:
                self._log.problem("untagged samples", f"{seg.length} samples without a {self._len_key_name} tag")
                continue
            meta = self._meta(seg)
            if "index" not in meta:
                self._log.problem("frame without index", "no index tag: it cannot be reported")
                continue
            if not self.plan.feasible:
                lost.append((pos, self._lost_meta(meta, "infeasible")))
            elif not seg.ok or seg.length != self.frame_len:
                self._warn.problem("wrong frame length",
                                  f"{seg.length} samples (packet_len {seg.announced}), expected {self.frame_len}")
                lost.append((pos, self._lost_meta(meta, "frame_length")))
            elif not np.isfinite(inp[seg.start: seg.start + seg.length]).all():
                self._warn.problem("non-finite symbols", "NaN or inf in the frame")
                lost.append((pos, self._lost_meta(meta, "non_finite")))
            else:
                noise = self._noise_var(seg)
                if noise is None:
                    self._warn.problem("no noise variance", "neither a noise_var nor an snr_db tag on the frame")
                    lost.append((pos, self._lost_meta(meta, "no_noise_var")))
                else:
                    todo.append((pos, meta, seg.start, noise))
        return todo, lost

    def general_work(self, input_items, output_items):
        inp = input_items[0]
        n = len(inp)
        try:
            frames = common.complete_frames(self, n, self._len_key)
            if frames is None:
                return 0
            segments, consumed = frames
            todo, lost = self._frames(inp, segments)
            results = {pos: (meta, None) for pos, meta in lost}
            L = self.frame_len
            for lo in range(0, len(todo), self.max_batch):
                chunk = todo[lo: lo + self.max_batch]
                starts = np.fromiter((c[2] for c in chunk), dtype=np.int64, count=len(chunk))
                rows = np.ascontiguousarray(inp[starts[:, None] + np.arange(L)[None, :]])
                noise = np.ascontiguousarray(np.stack([c[3] for c in chunk]))
                try:
                    items, reasons = self._decode(rows, noise)
                except Exception as err:  # noqa: BLE001 - a failing batch is lost, not raised
                    self._warn.problem("receiver failure", repr(err))
                    items, reasons = [None] * len(chunk), ["receiver_failure"] * len(chunk)
                for (pos, meta, _, _), item, reason in zip(chunk, items, reasons):
                    image = self._image(item) if reason is None and item is not None else None
                    if image is None:
                        if reason is None:
                            self._warn.problem("decoded item is not an image", "wrong size or non-finite values")
                        results[pos] = (self._lost_meta(meta, reason or "source_failure"), None)
                    else:
                        meta["lost"] = False
                        self._delivered += 1
                        results[pos] = (meta, image)
            for lo in range(0, len(results), self.max_batch):
                order = sorted(results)[lo: lo + self.max_batch]
                self._publish([results[p][0] for p in order], [results[p][1] for p in order])
            self.consume(0, consumed)
            return 0
        except Exception as err:  # noqa: BLE001 - never raise inside work()
            self._log.problem("receiver failure", repr(err))
            self.consume(0, n)
            return 0
