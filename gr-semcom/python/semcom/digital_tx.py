#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Classical digital transmitter: image PDUs in, a tagged stream of QAM symbols out.

The separate source-channel coding link of ``semcom_core.baselines.link``
(source codec such as BPG, LDPC, QAM) as a GNU Radio block, sending each image
in the same number of channel uses as a semantic bundle.
"""

from __future__ import annotations

import collections
import threading
import time
from fractions import Fraction

import numpy as np
import pmt
from gnuradio import gr

from . import common

#: Reasons an image is reported lost (``lost_reason`` in the PDU metadata).
#: From the transmitter: ``infeasible`` (no codeword fits the channel uses, or
#: the source codec cannot go below the budget), ``encoder_failure``; from the
#: receiver: ``channel_failure`` (a codeword failed its parity checks),
#: ``source_failure`` (bad length field or bytes the source decoder rejects),
#: ``frame_length``, ``non_finite``, ``no_noise_var``, ``receiver_failure``.
LOST_REASONS = ("infeasible", "encoder_failure", "channel_failure", "source_failure", "frame_length",
                "non_finite", "no_noise_var", "receiver_failure")


class LadderCache:
    """Every source encoding of an image (``SourceCodec.ladder``), computed once per process.

    Like ``semcom_core.baselines.images.ImageLadders`` for a sweep: a flowgraph
    that sends the same images again (another SNR, another code) picks a rung
    for its budget without encoding them again. Keyed by codec name and
    pixels; holds at most ``max_items`` images (oldest dropped first).
    """

    def __init__(self, max_items: int = 4096):
        self.max_items = int(max_items)
        self._items: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()

    def ladder(self, codec, image: np.ndarray) -> list:
        key = (getattr(codec, "name", type(codec).__name__), image.shape, image.tobytes())
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        ladder = codec.ladder(image)
        with self._lock:
            self._items[key] = ladder
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return ladder

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


#: The ladders shared by the digital transmitters of this process.
LADDERS = LadderCache()


def make_link(codec="bpg", family="nr", rate="3/4", qam=64, n=576, channel_uses=0, bundle_path=""):
    """``(link, plan, bundle or None)`` of the block arguments shared by ``digital_tx`` and ``digital_rx``.

    ``channel_uses`` 0 takes the ``k`` of the bundle's card (the semantic link's
    channel uses). Raises ``ValueError`` (or ``BundleError``) on bad arguments.
    """
    from semcom_core.baselines.link import CodeChoice, DigitalLink
    from semcom_core.baselines.source import make_source_codec

    bundle = common.load_bundle(bundle_path) if str(bundle_path).strip() else None
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
    return common.make_pdu(meta, values)


class digital_tx(common.FrameQueueBlock, gr.sync_block):
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
    per image and process, see ``LadderCache``).

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
        gr.sync_block.__init__(self, name="semcom_digital_tx", in_sig=None, out_sig=[np.complex64])
        self.link, self.plan, self.bundle = make_link(codec, family, rate, qam, n, channel_uses, bundle_path)
        self.channel_uses = int(self.plan.channel_uses)
        self.frame_len = int(self.plan.symbols)
        self.image_shape = tuple(int(x) for x in self.bundle.image_shape) if self.bundle is not None else None
        self.max_batch = max(1, int(max_batch))
        self._len_key = pmt.intern(str(len_tag_key))
        self._log = common.OnceLog(f"semcom_digital_tx{self.unique_id()}")     # dropped PDUs
        self._warn = common.OnceLog(f"semcom_digital_tx{self.unique_id()}")    # failures reported on "lost"
        self._lost_counts: dict[str, int] = {}
        self._queue: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._pending = None       # [symbols [B, L] complex64, list of tag dicts, next row]
        self._sent = 0
        self._received = 0
        self._lost_port = pmt.intern("lost")
        if self.plan.feasible:
            self.set_output_multiple(self.frame_len)
            common.set_min_output_buffer_quietly(
                self, max(common.MAX_FRAME_ITEMS, 2 * self.frame_len * self.max_batch))
        else:
            self._log.logger.warn(f"{self.link.choice.label} fits no codeword in {self.channel_uses} channel uses: "
                                  "every image is reported lost (infeasible)")
        self.message_port_register_in(pmt.intern("pdu"))
        self.set_msg_handler(pmt.intern("pdu"), self._handle_pdu)
        self.message_port_register_out(self._lost_port)

    # -- getters (the common ones: common.FrameQueueBlock) ----------------------
    def infeasible(self) -> int:
        """Images not sent and reported on ``lost`` (infeasible or failed source encoding)."""
        with self._lock:
            return sum(self._lost_counts.values())

    def lost_reasons(self) -> dict:
        with self._lock:
            return dict(self._lost_counts)

    def budget_bits(self) -> int:
        """Source bits per image (0 when nothing fits)."""
        return int(self.plan.budget_bits or 0)

    # -- message handling ----------------------------------------------------
    def _report_lost(self, meta: dict, reason: str) -> None:
        with self._lock:
            self._lost_counts[reason] = self._lost_counts.get(reason, 0) + 1
        self.message_port_pub(self._lost_port, lost_pdu(meta, reason))

    def _image(self, meta: dict, data: np.ndarray):
        """The PDU's image as float32 [C, H, W], or None after counting why it is dropped."""
        shape = self.image_shape
        if shape is None:
            raw = meta.get("shape")
            try:
                shape = tuple(int(x) for x in raw)
            except (TypeError, ValueError):
                self._log.problem("no image shape", "the PDU has no shape and no bundle is given")
                return None
        if len(shape) != 3 or data.size != int(np.prod(shape)):
            self._log.problem("wrong image size", f"got {data.size} values, expected {shape}")
            return None
        if not np.isfinite(data).all():
            self._log.problem("non-finite pixel values", "NaN or inf in the image PDU")
            return None
        return np.clip(data, 0.0, 1.0).reshape(shape)

    def _take_batch(self):
        """Source-encode up to max_batch queued PDUs; returns (encoded list, tag dicts) of the sendable ones."""
        encoded, tags = [], []
        for meta, data in self._queued_pdus():
            image = self._image(meta, data)
            if image is None:
                continue
            if not self.plan.feasible:
                self._report_lost(meta, "infeasible")
                continue
            try:
                # the library's choice: the best rung of the image's ladder within the plan's budget
                enc = self.link.choose([LADDERS.ladder(self.link.codec, image)], self.plan)[0]
            except Exception as err:  # noqa: BLE001 - a codec failure loses this image, nothing more
                self._warn.problem("source encoder failure", repr(err))
                self._report_lost(meta, "encoder_failure")
                continue
            if enc is None:
                self._report_lost(meta, "infeasible")
                continue
            t = {key: meta[key] for key in ("index", "label") if key in meta}
            t["quality"] = float(enc.quality)
            t["bits"] = int(enc.bits)
            encoded.append(enc)
            tags.append(t)
            if len(encoded) == self.max_batch:
                break
        return encoded, tags

    def work(self, input_items, output_items):
        out = output_items[0]
        try:
            if self._pending is None:
                if not self._queue:
                    time.sleep(0.002)   # idle: let the scheduler deliver messages
                    return 0
                encoded, tags = self._take_batch()
                if not encoded:
                    return 0
                try:
                    tx = self.link.transmit(encoded, self.plan)
                    symbols = tx.symbols.detach().to("cpu").numpy().astype(np.complex64, copy=False)
                except Exception as err:  # noqa: BLE001 - a failing batch is lost, not raised
                    self._warn.problem("channel encoder failure", repr(err), n=len(tags))
                    for t in tags:
                        self._report_lost(t, "encoder_failure")
                    return 0
                self._pending = [symbols, tags, 0]
            symbols, tags, row = self._pending
            L = self.frame_len
            nframes = min(len(tags) - row, len(out) // L)
            if nframes <= 0:
                return 0
            out[: nframes * L] = symbols[row: row + nframes].reshape(-1)
            base = self.nitems_written(0)
            len_value = pmt.from_long(L)
            for j in range(nframes):
                offset = base + j * L
                self.add_item_tag(0, offset, self._len_key, len_value)
                for key, value in tags[row + j].items():
                    self.add_item_tag(0, offset, pmt.intern(key), common.to_tag_value(value))
            row += nframes
            self._pending = None if row >= len(tags) else [symbols, tags, row]
            self._sent += nframes
            return nframes * L
        except Exception as err:  # noqa: BLE001 - never raise inside work()
            self._log.problem("transmitter failure", repr(err))
            self._pending = None
            return 0
