#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Classical digital receiver: a tagged stream of QAM symbols in, image PDUs out."""

from __future__ import annotations


import numpy as np

from .base.log import OnceLog, use_torch_threads
from .base.limits import NOISE_VAR_RANGE
from .base.pdu import parse_pdu, register_ports, scalar
from .base.rx import FrameReceiver
from .digital_tx import make_link

_lost_images: dict = {}


def _mean_training_image(dataset: str, root) -> np.ndarray:
    """``semcom_core.baselines.images.lost_image`` as float32 [C, H, W], once per process."""
    key = (dataset, root)
    if key not in _lost_images:
        from semcom_core.baselines.images import lost_image

        _lost_images[key] = lost_image(dataset, root).numpy().astype(np.float32)
    return _lost_images[key]


class digital_rx(FrameReceiver):
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
    Frames that reached the decoder also carry ``code_blocks`` and
    ``block_errors`` (codewords that failed their checks) and ``coded_bits``
    and ``bit_errors`` (hard decisions against the decoded codewords, before
    decoding): the sink's BLER and raw BER
    (``semcom_core.baselines.link.block_counts``).

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
        super().__init__("semcom_digital_rx", len_tag_key, max_batch, torch_threads)
        from semcom_core.bundles import BundleError

        if not str(bundle_path).strip():
            raise BundleError("digital_rx needs a model bundle for its classifier (the bundle path is empty)")
        self.link, self.plan, self.bundle = make_link(codec, family, rate, qam, n, channel_uses, bundle_path)
        self.frame_len = int(self.plan.symbols)
        self.image_shape = tuple(int(x) for x in self.bundle.image_shape)
        self.image_size = int(np.prod(self.image_shape))
        self.ratio = float(self.plan.channel_uses) / self.image_size
        name, root = self.bundle.dataset()
        self.fallback = _mean_training_image(name, root)
        if self.fallback.shape != self.image_shape:
            raise ValueError(f"the mean image of {name} has shape {self.fallback.shape}, "
                             f"the bundle's images {self.image_shape}")
        self.source_meta = self._agreed_meta()
        self._warn = OnceLog(f"semcom_digital_rx{self.unique_id()}")    # broken frames reported lost
        self._lost_counts: dict[str, int] = {}
        self._delivered = 0
        register_ports(self, {"lost": self._handle_lost})

    def _agreed_meta(self) -> dict:
        """``Encoded.meta`` of the bundle's image shape: what the codec agrees on without sending it."""
        from semcom_core.baselines.images import LADDERS

        try:
            ladder = LADDERS.ladder(self.link.codec, np.full(self.image_shape, 0.5, np.float32))
            if ladder:
                return dict(ladder[0].meta)
        except Exception:  # noqa: BLE001 - fall back to the shape, the usual image meta
            pass
        return {"shape": list(self.image_shape)}

    # -- getters (decoded, dropped, drop_reasons: FrameReceiver) -----------------
    def lost(self) -> int:
        """Images published as lost (mean image)."""
        return sum(self._lost_counts.values())

    def lost_reasons(self) -> dict:
        return dict(self._lost_counts)

    def delivered(self) -> int:
        """Images decoded and published."""
        return self._delivered

    # -- lost images -------------------------------------------------------------
    def _lost(self, reason: str, problem: str = "", detail: str = "") -> tuple:
        """The item of a lost image; a broken frame's ``problem`` is also logged once."""
        if problem:
            self._warn.problem(problem, detail)
        return ("lost", reason)

    def _lost_meta(self, meta: dict, reason: str) -> dict:
        self._lost_counts[reason] = self._lost_counts.get(reason, 0) + 1
        return {**meta, "lost": True, "lost_reason": reason}

    def _classified(self, metas: list, images: list) -> list:
        """``(meta, image)`` to publish; ``images[i]`` None means lost (the mean image)."""
        import torch

        batch = np.stack([self.fallback if im is None else im for im in images]).astype(np.float32, copy=False)
        try:
            with torch.no_grad():
                preds = self.bundle.classify(torch.from_numpy(batch)).argmax(1).cpu().numpy()
        except Exception as err:  # noqa: BLE001 - the images still go out, without a decision
            self._warn.problem("classifier failure", repr(err))
            preds = [None] * len(metas)
        out = []
        for meta, image, pred in zip(metas, batch, preds):
            if pred is not None:
                meta["pred"] = int(pred)
            meta["ratio"] = self.ratio
            out.append((meta, image))
        return out

    def _handle_lost(self, msg):
        try:
            meta, _ = parse_pdu(msg)
        except ValueError as err:
            self.drop("bad lost notice", str(err))
            return
        if "index" not in meta:
            self.drop("lost notice without index", "cannot report it")
            return
        try:
            reason = str(meta.get("lost_reason") or "infeasible")
            keep = {key: scalar(value) for key, value in meta.items()
                    if key not in ("lost", "lost_reason", "shape") and isinstance(scalar(value), (int, float, str, bool))}
            use_torch_threads(self.torch_threads)
            for out_meta, image in self._classified([self._lost_meta(keep, reason)], [None]):
                self.publish(out_meta, image)
        except Exception as err:  # noqa: BLE001 - a bad notice must not stop the flowgraph
            self.drop("lost notice failed", repr(err))

    # -- hooks of FrameReceiver ------------------------------------------------------
    def _noise_var(self, seg):
        """Noise variance per symbol ([L] float32) or None."""
        from semcom_core.units import noise_var_from_snr_db

        lo, hi = NOISE_VAR_RANGE
        for raw in reversed(seg.tags.get("noise_var", [])):
            try:
                values = np.asarray(raw, dtype=np.float64).reshape(-1)
            except (TypeError, ValueError):
                continue                        # not numbers: look for another tag
            if values.size in (1, self.frame_len) and ((values >= lo) & (values <= hi)).all():
                return np.broadcast_to(values, (self.frame_len,)).astype(np.float32)
        for raw in reversed(seg.tags.get("snr_db", [])):
            try:
                nv = noise_var_from_snr_db(float(raw))
            except (TypeError, ValueError, OverflowError):
                continue
            if lo <= nv <= hi:
                return np.full(self.frame_len, nv, np.float32)
        return None

    def parse(self, segments, samples):
        from semcom_core.symbols import FrameError

        out = []
        for seg, frame in zip(segments, samples):
            if not seg.tags.get("index"):
                out.append(FrameError("frame without index", "no index tag: it cannot be reported"))
            elif not self.plan.feasible:
                out.append(self._lost("infeasible"))
            elif not seg.ok or seg.length != self.frame_len:
                out.append(self._lost("frame_length", "wrong frame length", f"{seg.length} samples (packet_len "
                                                                            f"{seg.announced}), expected {self.frame_len}"))
            elif not np.isfinite(frame).all():
                out.append(self._lost("non_finite", "non-finite symbols", "NaN or inf in the frame"))
            else:
                noise = self._noise_var(seg)
                if noise is None:
                    out.append(self._lost("no_noise_var", "no noise variance",
                                          "neither a noise_var nor an snr_db tag on the frame"))
                else:
                    out.append(("decode", np.ascontiguousarray(frame), noise))
        return out

    def decode(self, frames):
        import torch

        todo = [i for i, (_, item) in enumerate(frames) if item[0] == "decode"]
        images, counts = [None] * len(frames), [{} for _ in frames]
        found: list = []
        reasons = [item[1] if item[0] == "lost" else None for _, item in frames]
        if todo:
            rows = torch.from_numpy(np.stack([frames[i][1][1] for i in todo]))
            noise = torch.from_numpy(np.stack([frames[i][1][2] for i in todo]))
            try:
                items, why = self.link.receive_frames(rows, noise, self.plan, [self.source_meta] * len(todo),
                                                      counts=found)
            except Exception as err:  # noqa: BLE001 - a failing frame is lost, not raised
                if len(frames) > 1:
                    raise                       # FrameReceiver decodes the frames one by one
                self._warn.problem("receiver failure", repr(err))
                items, why = [None] * len(todo), ["receiver_failure"] * len(todo)
            if len(found) == len(todo):
                for i, frame_counts in zip(todo, found):
                    counts[i] = frame_counts
            for i, item, reason in zip(todo, items, why):
                image = self._image(item) if reason is None and item is not None else None
                if image is None and reason is None:
                    self._warn.problem("decoded item is not an image", "wrong size or non-finite values")
                images[i], reasons[i] = image, (reason or "source_failure") if image is None else None
        metas = []   # what this receiver adds to each frame's own metadata (FrameReceiver merges the two)
        for image, reason, frame_counts in zip(images, reasons, counts):
            if image is None:
                metas.append(self._lost_meta(dict(frame_counts), reason))
            else:
                self._delivered += 1
                metas.append({"lost": False, **frame_counts})
        return self._classified(metas, images)

    def _image(self, item):
        """A decoded item as float32 [C, H, W] in [0, 1], or None when it is not such an image."""
        image = np.asarray(item, dtype=np.float32)
        if image.size != self.image_size or not np.isfinite(image).all():
            return None
        return np.clip(image, 0.0, 1.0).reshape(self.image_shape)
