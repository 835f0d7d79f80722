"""The separate source-channel coding (SSCC) link: source code -> LDPC -> QAM -> channel -> back.

One item (image, text, clip) is sent in the same ``k`` complex channel uses as a
semantic method at ratio ``k/n``, at the same SNR (Es/N0 per unit-power symbol)
and through the same :mod:`semcom_core.channels` channel.

Bit accounting of one item:

    k channel uses x m bits per QAM symbol  ->  floor(k m / n_code) codewords
    codewords x k_code information bits     ->  16-bit payload length + payload + zero padding

The payload is the source codec's bytes, chosen as the best quality whose bits
fit the budget ``codewords * k_code - 16``. Channel uses left over after the
last whole codeword stay idle. When not even one codeword fits, or the lowest
quality does not fit the budget, the item is *infeasible*.

Lost items: an item is lost when it is infeasible, when any of its codewords
fails its parity checks, or when the source decoder rejects the bytes (LDPC
can fail silently). What a lost image counts for in PSNR and accuracy is
decided by :func:`semcom_core.baselines.evaluate.lost_image`: the receiver
shows the training set's mean image, so PSNR and accuracy fall to what a
receiver with no data gets: the cliff of the papers' digital curves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import torch

from ..channels import AWGNChannel
from .codes import make_code
from .codes.base import ChannelCode
from .modulation import QAM, effective_noise_variance
from .source.base import Encoded, SourceCodec, SourceDecodeError, fit

__all__ = ["CodeChoice", "DigitalLink", "LinkPlan", "LinkStats", "LENGTH_BITS", "default_choices"]

LENGTH_BITS = 16       # payload length field, in bytes, sent in front of the payload
NR_MAX_N = 8448        # longest 5G NR codeword semcom builds; longer frames are split
TURBO_MAX_N = 3 * 6144 + 12   # longest LTE turbo codeword


@dataclass(frozen=True)
class CodeChoice:
    """One (code, modulation) pair of the search.

    Args:
        family: ``"wimax"`` (IEEE 802.16e QC-LDPC, fixed length ``n``), ``"nr"``
            (5G NR LDPC through Sionna, rate-matched to fill the channel uses) or
            ``"turbo"`` (LTE turbo code with CRC24A, rate 1/3, sized to fill them).
        rate: code rate as text, ``"1/2"``, ``"2/3"``, ``"3/4"`` (``"1/3"`` for turbo).
        qam: QAM order, 4, 16 or 64.
        n: codeword length of the 802.16e code (576..2304 step 96).
    """

    family: str = "wimax"
    rate: str = "1/2"
    qam: int = 4
    n: int = 2304

    @property
    def label(self) -> str:
        if self.family == "turbo":
            return f"Turbo 1/3 (LTE) + {self.qam}-QAM"
        code = f"802.16e n={self.n}" if self.family == "wimax" else "5G NR"
        return f"LDPC {self.rate} ({code}) + {self.qam}-QAM"

    @property
    def short(self) -> str:
        return f"{self.family}{self.n if self.family == 'wimax' else ''}-r{self.rate}-{self.qam}qam"


def default_choices(family: str = "wimax", n: int = 2304, rates=("1/2", "2/3", "3/4"),
                    qams=(4, 16, 64)) -> list[CodeChoice]:
    """The papers' search space: every (rate, QAM order) pair of one code family."""
    return [CodeChoice(family, r, q, n) for r in rates for q in qams]


@dataclass
class LinkPlan:
    """How one item travels in ``channel_uses`` symbols; ``code`` None when nothing fits."""

    channel_uses: int
    code: ChannelCode | None
    codewords: int
    symbols: int              # channel uses actually spent (codewords * n / m)
    budget_bits: int | None   # bits left for the source payload; None when infeasible

    @property
    def feasible(self) -> bool:
        return self.budget_bits is not None and self.budget_bits > 0


@dataclass
class LinkStats:
    """Counters of what happened to the items sent through a link."""

    sent: int = 0
    infeasible: int = 0        # no codeword fits or the source could not meet the budget
    channel_failures: int = 0  # a codeword failed its parity checks, or its LLRs were malformed
    source_failures: int = 0   # bytes that did not decode (bad length field, corrupt stream)
    delivered: int = 0

    def add(self, other: "LinkStats") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass
class Transmission:
    """Symbols of a batch of items and what the receiver needs to undo them."""

    symbols: torch.Tensor            # complex64 [B, plan.symbols]
    sent: np.ndarray                 # bool [B]: False where the item was infeasible
    encoded: list                    # Encoded | None per item
    plan: LinkPlan
    stats: LinkStats = field(default_factory=LinkStats)


class DigitalLink:
    """Source codec + channel code + QAM for items sent in a fixed number of channel uses.

    Args:
        codec: the source codec (:mod:`semcom_core.baselines.source`).
        choice: the code family, rate and QAM order.
        demapping: ``"maxlog"`` or ``"app"`` LLRs.
        code_options: extra arguments of the code (e.g. ``max_iter``).
    """

    def __init__(self, codec: SourceCodec, choice: CodeChoice, demapping: str = "maxlog", **code_options):
        self.codec = codec
        self.choice = choice
        self.qam = QAM(choice.qam, demapping)
        self.code_options = code_options
        self._codes: dict = {}

    # -- planning -------------------------------------------------------------
    def _code(self, spec: tuple) -> ChannelCode:
        if spec not in self._codes:
            family, *size = spec
            if family == "wimax":
                self._codes[spec] = make_code({"family": "wimax", "rate": self.choice.rate, "n": size[0],
                                               **self.code_options})
            elif family == "turbo":
                self._codes[spec] = make_code({"family": "turbo", "k": size[0], **self.code_options})
            else:
                self._codes[spec] = make_code({"family": "nr", "k": size[0], "n": size[1], **self.code_options})
        return self._codes[spec]

    def plan(self, channel_uses: int) -> LinkPlan:
        """Codewords and source budget for ``channel_uses`` complex symbols."""
        if channel_uses < 1:
            raise ValueError(f"channel_uses must be >= 1, got {channel_uses}")
        m = self.qam.bits_per_symbol
        coded_bits = channel_uses * m
        if self.choice.family == "wimax":
            n = self.choice.n
            codewords = coded_bits // n
            code = self._code(("wimax", n)) if codewords else None
        elif self.choice.family == "nr":
            codewords = math.ceil(coded_bits / NR_MAX_N)
            n = (coded_bits // codewords) // m * m
            k = int(Fraction(self.choice.rate) * n)
            code = self._code(("nr", k, n)) if k >= 24 else None  # below this NR has no useful code
            codewords = codewords if code is not None else 0
        elif self.choice.family == "turbo":
            codewords = math.ceil(coded_bits / TURBO_MAX_N)
            k = ((coded_bits // codewords) - 12) // 3 - 24          # n = 3 (k + 24) + 12 with CRC24A
            code = self._code(("turbo", k)) if k >= 8 else None
            codewords = codewords if code is not None else 0
        else:
            raise ValueError(f"unknown code family {self.choice.family!r}; use 'wimax', 'nr' or 'turbo'")
        if not codewords:
            return LinkPlan(channel_uses, None, 0, 0, None)
        budget = codewords * code.k - LENGTH_BITS
        symbols = math.ceil(codewords * code.n / m)   # the last symbol is zero-padded when n m does not divide
        return LinkPlan(channel_uses, code, codewords, symbols, budget if budget > 0 else None)

    def choose(self, ladders: list[list[Encoded]], plan: LinkPlan) -> list[Encoded | None]:
        """The best encoding of each item that fits the plan's budget (None: infeasible)."""
        if not plan.feasible:
            return [None] * len(ladders)
        return [fit(ladder, plan.budget_bits) for ladder in ladders]

    # -- transmitter ----------------------------------------------------------
    def frame_bits(self, encoded: list[Encoded | None], plan: LinkPlan) -> np.ndarray:
        """Information bits ``uint8 [B, codewords, k_code]``: length, payload, zero padding."""
        if not plan.feasible:
            raise ValueError("nothing can be sent in this plan (no codeword fits)")
        info = plan.codewords * plan.code.k
        rows = np.zeros((len(encoded), info), dtype=np.uint8)
        for i, enc in enumerate(encoded):
            if enc is None:
                continue
            payload = bytes(enc.payload)
            if LENGTH_BITS + 8 * len(payload) > info or len(payload) >= 2 ** LENGTH_BITS:
                raise ValueError(f"payload of {len(payload)} bytes exceeds the plan's {plan.budget_bits} bits")
            framed = len(payload).to_bytes(LENGTH_BITS // 8, "big") + payload
            bits = np.unpackbits(np.frombuffer(framed, dtype=np.uint8))
            rows[i, :bits.size] = bits
        return rows.reshape(len(encoded), plan.codewords, plan.code.k)

    def transmit(self, encoded: list[Encoded | None], plan: LinkPlan) -> Transmission:
        """QAM symbols ``[B, plan.symbols]`` of the framed, LDPC-coded payloads.

        Infeasible items (``None``) are sent as all-zero frames and counted; the
        receiver reports them lost.
        """
        sent = np.array([e is not None for e in encoded], dtype=bool) & plan.feasible
        stats = LinkStats(sent=len(encoded), infeasible=int((~sent).sum()))
        if not plan.feasible:
            return Transmission(torch.zeros(len(encoded), 0, dtype=torch.complex64), sent, encoded, plan, stats)
        info = self.frame_bits(encoded, plan)
        coded = plan.code.encode(info.reshape(-1, plan.code.k)).reshape(len(encoded), -1)
        padded = np.zeros((len(encoded), plan.symbols * self.qam.bits_per_symbol), dtype=np.uint8)
        padded[:, :coded.shape[1]] = coded
        return Transmission(self.qam.modulate(padded), sent, encoded, plan, stats)

    # -- receiver -------------------------------------------------------------
    def _decode_payloads(self, llr, plan: LinkPlan, batch: int, counts: list | None = None) -> tuple[list, list]:
        """LLRs ``[B, plan.symbols * m]`` -> payload bytes and loss reason per frame.

        LLRs of the wrong shape lose every frame; NaN LLRs lose their own frame. ``counts``, when given, gets
        one :func:`block_counts` dict per decoded frame.
        """
        llr = np.asarray(llr, dtype=np.float32)
        if not plan.feasible:
            return [None] * batch, ["infeasible"] * batch
        if llr.shape != (batch, plan.symbols * self.qam.bits_per_symbol):
            return [None] * batch, ["channel_failure"] * batch
        coded = llr[:, :plan.codewords * plan.code.n]     # drop the padding bits of the last symbol
        result = plan.code.decode(coded.reshape(batch * plan.codewords, plan.code.n))
        if counts is not None:
            counts.extend(block_counts(plan.code, coded.reshape(batch, plan.codewords, plan.code.n), result))
        ok = result.ok.reshape(batch, plan.codewords).all(axis=1)
        bits = result.bits.reshape(batch, plan.codewords * plan.code.k)
        payloads = [_unframe(bits[i]) if ok[i] else None for i in range(batch)]
        reasons = [None if p is not None else "channel_failure" if not ok[i] else "source_failure"
                   for i, p in enumerate(payloads)]
        return payloads, reasons

    def decode_llrs(self, llr: np.ndarray, tx: Transmission) -> tuple[list[bytes | None], LinkStats]:
        """Channel-decode LLRs ``[B, plan.symbols * m]``; payload bytes per item (None: lost)."""
        payloads, reasons = self._decode_payloads(llr, tx.plan, len(tx.encoded))
        reasons = [r if sent else "infeasible" for r, sent in zip(reasons, tx.sent)]
        return [p if sent else None for p, sent in zip(payloads, tx.sent)], _count(tx.stats, reasons)

    def receive_frames(self, y_eq: torch.Tensor, noise_var, plan: LinkPlan, metas: list[dict],
                       cache: dict | None = None, counts: list | None = None) -> tuple[list, list[str | None]]:
        """A receiver on its own (e.g. a GNU Radio block): no :class:`Transmission` at hand.

        ``y_eq`` ``[B, plan.symbols]`` equalised frames, ``noise_var`` as for
        :meth:`QAM.llrs`, ``metas`` the items' ``Encoded.meta`` agreed in
        advance (e.g. the image shape). Returns the items (None where lost)
        and per frame why it was lost: None (delivered), ``"infeasible"``
        (the plan carries nothing), ``"channel_failure"`` (a codeword failed
        its parity checks, or malformed LLRs) or ``"source_failure"`` (a bad
        length field or bytes the source decoder rejects).
        ``cache`` maps payload bytes to decoded items, so a sweep that receives
        the same bytes many times source-decodes them once. ``counts``, when
        given, gets the codeword and bit counts of each frame
        (:func:`block_counts`; none when the frames could not be decoded at all).
        """
        batch = len(metas)
        llr = self.qam.llrs(y_eq, noise_var) if plan.feasible else None
        payloads, reasons = self._decode_payloads(llr, plan, batch, counts)
        items = []
        for i, payload in enumerate(payloads):
            item = None
            if payload is not None:
                try:
                    item = self._source_decode(payload, metas[i], cache)
                except SourceDecodeError:
                    reasons[i] = "source_failure"
            items.append(item)
        return items, reasons

    def receive(self, y_eq: torch.Tensor, noise_var, tx: Transmission,
                cache: dict | None = None) -> tuple[list, LinkStats]:
        """Demap, decode and source-decode a :class:`Transmission`: items (None where lost), counters."""
        metas = [e.meta if e is not None else {} for e in tx.encoded]
        items, reasons = self.receive_frames(y_eq, noise_var, tx.plan, metas, cache)
        reasons = [r if sent else "infeasible" for r, sent in zip(reasons, tx.sent)]
        return [item if sent else None for item, sent in zip(items, tx.sent)], _count(tx.stats, reasons)

    def _source_decode(self, payload: bytes, meta: dict, cache: dict | None):
        if cache is None:
            return self.codec.decode(payload, meta)
        if payload not in cache:
            try:
                cache[payload] = self.codec.decode(payload, meta)
            except SourceDecodeError as err:
                cache[payload] = err
        if isinstance(cache[payload], SourceDecodeError):
            raise cache[payload]
        return cache[payload]

    def send(self, encoded: list[Encoded | None], channel, snr_db, channel_uses: int,
             generator: torch.Generator | None = None, cache: dict | None = None) -> tuple[list, LinkStats]:
        """Transmit, pass through ``channel`` at ``snr_db`` and receive, in one call."""
        plan = self.plan(channel_uses)
        tx = self.transmit(encoded, plan)
        if not plan.feasible:
            return self.receive(tx.symbols, None, tx, cache)
        out = channel.transmit(tx.symbols, snr_db, generator)
        pilots = channel.pilots if channel.csi == "ls" and not isinstance(channel, AWGNChannel) else 0
        return self.receive(out.y_eq, effective_noise_variance(out, pilots), tx, cache)


def block_counts(code, llr: np.ndarray, result) -> list[dict]:
    """Per frame (first axis of ``llr [B, codewords, n]``): ``code_blocks`` and ``block_errors`` (codewords
    that failed their checks: BLER), and ``coded_bits`` and ``bit_errors``: the hard decisions of the
    channel LLRs against the codewords the decoder found, over the codewords that passed (the raw bit
    error rate before decoding; a codeword that failed has no known reference and is left out)."""
    batch, blocks, _n = llr.shape
    ok = result.ok.reshape(batch, blocks)
    errors = np.zeros((batch, blocks), np.int64)
    if ok.any():
        codewords = code.encode(result.bits.reshape(batch, blocks, -1)[ok])
        errors[ok] = ((llr[ok] < 0).astype(np.uint8) != codewords).sum(axis=1)
    return [{"code_blocks": int(blocks), "block_errors": int((~ok[i]).sum()),
             "coded_bits": int(ok[i].sum()) * int(_n), "bit_errors": int(errors[i].sum())} for i in range(batch)]


def _count(sent: LinkStats, reasons: list) -> LinkStats:
    """The transmitter's counters plus the receiver's outcome per item."""
    stats = LinkStats(sent=sent.sent, infeasible=reasons.count("infeasible"),
                      channel_failures=reasons.count("channel_failure"),
                      source_failures=reasons.count("source_failure"))
    stats.delivered = reasons.count(None)
    return stats


def _unframe(bits: np.ndarray) -> bytes | None:
    """Payload bytes after the length field; None when the length cannot be right."""
    data = np.packbits(bits).tobytes()
    length = int.from_bytes(data[:LENGTH_BITS // 8], "big")
    if length == 0 or LENGTH_BITS // 8 + length > len(data):
        return None
    return data[LENGTH_BITS // 8:LENGTH_BITS // 8 + length]
