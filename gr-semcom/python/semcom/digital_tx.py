#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Classical digital transmitter: image PDUs in, a tagged stream of QAM symbols out.

The separate source-channel coding link of ``semcom_core.baselines.link`` (source codec such as BPG,
LDPC, QAM) as a GNU Radio block, sending each image in the same number of channel uses as a semantic
bundle.
"""

from __future__ import annotations

import threading
from fractions import Fraction

import numpy as np
import pmt

from .base.bundles import load_bundle
from .base.log import OnceLog
from .base.pdu import make_pdu
from .base.tx import FrameTransmitter

#: Reasons an image is reported lost (``lost_reason`` in the PDU metadata).
#: From the transmitter: ``infeasible`` (no codeword fits the channel uses, or
#: the source codec cannot go below the budget), ``encoder_failure``; from the
#: receiver: ``channel_failure`` (a codeword failed its parity checks),
#: ``source_failure`` (bad length field or bytes the source decoder rejects),
#: ``frame_length``, ``non_finite``, ``no_noise_var``, ``receiver_failure``.
LOST_REASONS = ("infeasible", "encoder_failure", "channel_failure", "source_failure", "frame_length",
                "non_finite", "no_noise_var", "receiver_failure")


def make_link(codec="bpg", family="nr", rate="3/4", qam=64, n=576, channel_uses=0, bundle_path=""):
    """``(link, plan, bundle or None)`` of the block arguments shared by ``digital_tx`` and ``digital_rx``.

    ``channel_uses`` 0 takes the ``k`` of the bundle's card (the semantic link's
    channel uses). Raises ``ValueError`` (or ``BundleError``) on bad arguments.
    """
    from semcom_core.baselines.link import CodeChoice, DigitalLink
    from semcom_core.baselines.source import make_source_codec

    bundle = load_bundle(bundle_path) if str(bundle_path).strip() else None
    channel_uses = int(channel_uses)
    if channel_uses <= 0:
        if bundle is None:
            raise ValueError("channel_uses is 0 (take the bundle's k) but no bundle is given")
        channel_uses = int(bundle.k)
    family = str(family).strip().lower()
    if family not in ("nr", "wimax"):
        raise ValueError(f"unknown code family {family!r}; use 'nr' or 'wimax'")
    try:
        code_rate = Fraction(str(rate).strip())
    except (ValueError, ZeroDivisionError) as err:
        raise ValueError(f"code rate must be a fraction such as '3/4', got {rate!r}") from err
    if not 0 < code_rate < 1:
        raise ValueError(f"code rate must lie between 0 and 1, got {rate!r}")
    choice = CodeChoice(family=family, rate=str(rate).strip(), qam=int(qam), n=int(n))
    link = DigitalLink(make_source_codec(str(codec)), choice)
    try:
        plan = link.plan(channel_uses)
    except Exception as err:  # noqa: BLE001 - e.g. a rate or length the code family does not have
        raise ValueError(f"cannot build {choice.label} for {channel_uses} channel uses: {err}") from err
    return link, plan, bundle


def lost_pdu(meta: dict, reason: str, image=None):
    """``cons(meta + {lost: True, lost_reason}, f32vector)``; an empty payload when ``image`` is None."""
    meta = dict(meta)
    meta["lost"] = True
    meta["lost_reason"] = str(reason)
    values = np.zeros(0, np.float32) if image is None else image
    return make_pdu(meta, values)


class digital_tx(FrameTransmitter):
    """Source-code, LDPC-encode and QAM-map image PDUs into one frame per image.

    Message input ``pdu``: ``cons(meta, f32vector of C*H*W values in [0,1])``
    (as emitted by ``image_source``). Stream output: complex64, one frame of
    ``plan.symbols`` unit-power symbols per image (the whole codewords that
    fit in ``channel_uses``; the channel uses left over stay idle), with tags
    on the first sample: ``packet_len`` (the key is ``len_tag_key``),
    ``index`` and ``label`` (when the metadata has them), ``quality`` and
    ``bits`` (the source encoding chosen; for information).

    Each image is sent at the best source quality whose bytes fit the plan's
    budget (``DigitalLink.plan``: codewords x information bits, minus the
    16-bit length field), exactly as ``semcom_core``'s ``DigitalLink`` does
    (``DigitalLink.choose`` on the codec's ladder; ladders are computed once
    per image and process, ``semcom_core.baselines.images.LADDERS``).

    Message output ``lost``: images that are not sent. An image is
    *infeasible* when no codeword fits the channel uses or when even the
    source codec's lowest quality exceeds the budget; then no frame is sent
    (no channel time is spent on it) and the PDU's metadata goes out on
    ``lost`` with ``lost=True`` and ``lost_reason`` (``infeasible`` or
    ``encoder_failure``) and an empty payload. Connect it to the ``lost``
    input of ``digital_rx``, which turns it into a lost-image PDU, so every
    image reaches the metrics.

    Args:
        codec: source codec name (``semcom_core.baselines.source.make_source_codec``), e.g. ``bpg``, ``jpeg``.
        family: ``nr`` (5G NR LDPC, rate-matched to fill the channel uses) or
            ``wimax`` (IEEE 802.16e LDPC of length ``n``).
        rate: code rate, ``"1/2"``, ``"2/3"``, ``"3/4"`` (and what the family offers).
        qam: QAM order (4, 16, 64, 256).
        n: 802.16e codeword length (576..2304 step 96); unused for ``nr``.
        channel_uses: complex symbols per image; 0 takes the ``k`` of ``bundle_path``'s
            card, so the digital link uses exactly the semantic link's channel uses.
        bundle_path: a bundle (for ``k`` and the image shape); optional when
            ``channel_uses`` > 0 (the shape then comes from each PDU's ``shape``).
        len_tag_key: name of the frame length tag.
        max_batch: images LDPC-encoded and mapped in one call.

    PDUs that are not images (not a PDU, wrong size, NaN/inf values) are
    dropped and counted (``dropped()``, ``drop_reasons()``), each reason
    logged once. ``infeasible()`` counts the images reported on ``lost``
    (codec failures among them are also logged once).
    """

    def __init__(self, codec="bpg", family="nr", rate="3/4", qam=64, n=576, channel_uses=0, bundle_path="",
                 len_tag_key="packet_len", max_batch=64):
        self.link, self.plan, self.bundle = make_link(codec, family, rate, qam, n, channel_uses, bundle_path)
        self.channel_uses = int(self.plan.channel_uses)
        self.frame_len = int(self.plan.symbols)
        super().__init__("semcom_digital_tx", len_tag_key, max_batch, 1, self.frame_len)
        self.image_shape = tuple(int(x) for x in self.bundle.image_shape) if self.bundle is not None else None
        self._warn = OnceLog(f"semcom_digital_tx{self.unique_id()}")    # failures reported on "lost"
        self._lost_counts: dict[str, int] = {}
        self._lost_lock = threading.Lock()
        self._lost_port = pmt.intern("lost")
        if not self.plan.feasible:
            self._warn.logger.warn(f"{self.link.choice.label} fits no codeword in {self.channel_uses} channel uses: "
                                   "every image is reported lost (infeasible)")
        self.message_port_register_out(self._lost_port)

    # -- getters (the common ones: FrameTransmitter) ---------------------------
    def infeasible(self) -> int:
        """Images not sent and reported on ``lost`` (infeasible or failed source encoding)."""
        with self._lost_lock:
            return sum(self._lost_counts.values())

    def lost_reasons(self) -> dict:
        with self._lost_lock:
            return dict(self._lost_counts)

    def budget_bits(self) -> int:
        """Source bits per image (0 when nothing fits)."""
        return int(self.plan.budget_bits or 0)

    # -- hooks of FrameTransmitter -----------------------------------------------
    def _report_lost(self, meta: dict, reason: str) -> None:
        with self._lost_lock:
            self._lost_counts[reason] = self._lost_counts.get(reason, 0) + 1
        self.message_port_pub(self._lost_port, lost_pdu(meta, reason))

    def accept(self, meta: dict, data: np.ndarray):
        """The PDU's image as float32 [C, H, W] in [0, 1], or None after counting why it is dropped."""
        shape = self.image_shape
        if shape is None:
            try:
                shape = tuple(int(x) for x in meta.get("shape"))
            except (TypeError, ValueError):
                self.drop("no image shape", "the PDU has no shape and no bundle is given")
                return None
        if len(shape) != 3 or data.size != int(np.prod(shape)):
            self.drop("wrong image size", f"got {data.size} values, expected {shape}")
            return None
        if not np.isfinite(data).all():
            self.drop("non-finite pixel values", "NaN or inf in the image PDU")
            return None
        return np.clip(data, 0.0, 1.0).reshape(shape)

    def encode(self, images, metas):
        """Each image at the best source quality whose bytes fit the plan's budget (the library's
        ``DigitalLink.choose``), then LDPC and QAM for the sendable ones in one batch."""
        from semcom_core.baselines.images import LADDERS

        encoded, tags = [], []
        for image, meta in zip(images, metas):
            if not self.plan.feasible:
                self._report_lost(meta, "infeasible")
                continue
            try:
                enc = self.link.choose([LADDERS.ladder(self.link.codec, image)], self.plan)[0]
            except Exception as err:  # noqa: BLE001 - a codec failure loses this image, nothing more
                self._warn.problem("source encoder failure", repr(err))
                self._report_lost(meta, "encoder_failure")
                continue
            if enc is None:
                self._report_lost(meta, "infeasible")
                continue
            encoded.append(enc)
            tags.append({**{key: meta[key] for key in ("index", "label") if key in meta},
                         "quality": float(enc.quality), "bits": int(enc.bits)})
        if not encoded:
            return []
        try:
            symbols = self.link.transmit(encoded, self.plan).symbols.detach().cpu().numpy().astype(np.complex64)
        except Exception as err:  # noqa: BLE001 - a failing batch is lost, not raised
            self._warn.problem("channel encoder failure", repr(err), n=len(tags))
            for t in tags:
                self._report_lost(t, "encoder_failure")
            return []
        return list(zip(symbols, tags))
