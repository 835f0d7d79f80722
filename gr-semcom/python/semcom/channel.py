#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Symbol-level channel on a tagged stream (AWGN, Rayleigh, Rician, Sionna TDL)."""

from __future__ import annotations

import time

import numpy as np
import pmt
from gnuradio import gr

from semcom_core.units import snr_db_from_noise_var

from .base.limits import MAX_SYMBOL_POWER, SNR_DB_RANGE, mean_power
from .base.log import MessageSetting, OnceLog
from .base.pdu import checked_noise_var, level_of, register_ports
from .base.stream import MAX_FRAME_ITEMS, set_min_output_buffer_quietly, split_frames, window_len_tags


#: Frames averaged before the input's power is judged, and the range (1 dB either side of unit power)
#: within which it passes unremarked.
UNIT_POWER_FRAMES = 32
UNIT_POWER_RANGE = (10 ** -0.1, 10 ** 0.1)


def snr_db_of(msg) -> float:
    """The SNR (dB) an ``snr_db`` message asks for: a PMT number, or a dict with ``snr_db`` or
    ``noise_var``. Raises ``ValueError`` when it holds no usable value."""
    kind, value = level_of(msg, "snr_db")
    return finite_snr_db(value if kind == "snr_db" else snr_db_from_noise_var(checked_noise_var(value)))


def finite_snr_db(value) -> float:
    """``value`` as a float (dB) within :data:`~.base.limits.SNR_DB_RANGE`; ``ValueError`` otherwise."""
    if isinstance(value, bool):
        raise ValueError("snr_db is not a number")
    value = float(value)
    if not SNR_DB_RANGE[0] <= value <= SNR_DB_RANGE[1]:
        raise ValueError(f"snr_db must be within {SNR_DB_RANGE[0]:g} .. {SNR_DB_RANGE[1]:g} dB, got {value!r}")
    return value


def evm_db(received: np.ndarray, sent: np.ndarray) -> np.ndarray:
    """Error vector magnitude per frame (rows), in dB: 10 log10(mean |received - sent|^2 / mean |sent|^2).
    Here the symbols sent are known (a simulated channel), so it is the data-aided EVM of the equalised
    symbols; NaN for a frame of zero power."""
    error = np.mean(np.abs(received - sent) ** 2, axis=1)
    power = np.mean(np.abs(sent) ** 2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 10 * np.log10(error / power)


class channel(gr.basic_block):
    """Pass frames of complex symbols through a ``semcom_core`` channel.

    Input and output: complex64 tagged streams; every frame starts with a
    ``packet_len`` tag. Each frame is one row of the channel (one block-fading
    gain for ``rayleigh``/``rician``); all complete frames available in a
    ``work()`` call go through the channel in one batch. The output is the
    equalised symbols ``y_eq`` (zero forcing with perfect or least-squares
    CSI). Tags pass through unchanged; an ``snr_db`` tag is added on the first
    sample of every frame, and a ``noise_var`` tag with the noise variance of
    the equalised symbols (what a demapper needs for its LLRs,
    ``semcom_core.baselines.modulation.effective_noise_variance``):
    ``N0 / |h_est|^2``, times ``1 + 1/pilots`` with LS estimates, and an
    ``evm_db`` tag: the frame's error vector magnitude after equalisation
    against the symbols sent (:func:`evm_db`), which the metrics sink averages.

    - ``awgn`` and the block-fading channels (``rayleigh``, ``rician``): one
      equaliser gain per frame, so the tag is one double per frame.
    - channels whose gain changes within a frame (``rayleigh_fast``, ``tdl``
      or ``extra={"coherence": c}``): an f32vector with one value per symbol
      of the frame.

    Args:
        channel: ``awgn``, ``rayleigh``, ``rayleigh_fast``, ``rician`` or
            ``tdl`` (Sionna 3GPP TDL on OFDM subcarriers).
        snr_db: Es/N0 per complex symbol in dB (settable while running).
        csi: ``perfect`` or ``ls`` (least squares from ``pilots`` pilots).
        pilots: pilot symbols per coherence block for ``csi="ls"``.
        seed: seed of the channel's random generator.
        len_tag_key: name of the frame length tag.
        extra: further keyword arguments of the channel (a dict), e.g.
            ``{"k_factor": 6.0}``, ``{"model": "C"}`` or radio hardware,
            ``{"impairments": {"pa_backoff_db": 3, "phase_noise_deg": 1, "iq_gain_db": 0.5}}``.
        snr_tag_key: when not empty, a frame whose first sample carries a
            tag of this key (a number, dB) sets the SNR from that frame on,
            in step with the stream (``mijscc_tx`` tags ``tx_snr_db``, the
            SNR its mask was computed for: a simulation of perfect feedback
            that makes SNR schedules exact). Empty: only ``set_snr_db`` and
            the ``snr_db`` messages change the SNR.

    Message input ``snr_db`` (optional): a PMT number (the SNR in dB) or a
    dict with ``snr_db`` or ``noise_var`` (``snr_db = -10 log10(noise_var)``)
    calls ``set_snr_db``; frames already in the block's input when the message
    arrives may still get the old SNR. Invalid messages are counted
    (``bad_messages()``) and ignored.

    Unknown channel names or bad arguments raise ``ValueError`` here, in the
    constructor. Samples outside well-formed frames pass through the channel
    as one row each and are counted (``malformed()``). A frame whose input
    holds NaN or inf or has a mean power above :data:`~.base.limits.MAX_SYMBOL_POWER` comes
    out as NaN, alone, and is counted (``drop_reasons()``); receivers drop
    it. If the channel itself fails, the affected samples come out as NaN too.
    """

    def __init__(self, channel="awgn", snr_db=10.0, csi="perfect", pilots=4, seed=0,
                 len_tag_key="packet_len", extra=None, snr_tag_key=""):
        gr.basic_block.__init__(self, name="semcom_channel", in_sig=[np.complex64], out_sig=[np.complex64])
        import torch
        from semcom_core.channels import make_channel

        self._generator = torch.Generator().manual_seed(int(seed))
        kwargs = dict(extra or {})
        self.channel_name = str(channel)
        self._channel = make_channel(self.channel_name, csi=str(csi), pilots=int(pilots),
                                     generator=self._generator, **kwargs)
        self._snr = MessageSetting(f"semcom_channel{self.unique_id()}", "snr_db", snr_db_of, finite_snr_db, snr_db)
        self._len_key = pmt.intern(str(len_tag_key))
        self._snr_tag_key = pmt.intern(str(snr_tag_key)) if str(snr_tag_key or "") else None
        self._snr_key = pmt.intern("snr_db")
        self._nv_key = pmt.intern("noise_var")
        self._evm_key = pmt.intern("evm_db")
        from semcom_core.channels import AWGNChannel

        # pilots of the LS estimate in the equalised noise (none on AWGN, whose gain is known)
        self._pilots = (self._channel.pilots if self._channel.csi == "ls"
                        and not isinstance(self._channel, AWGNChannel) else 0)
        self._log = OnceLog(f"semcom_channel{self.unique_id()}")
        self._frames = 0
        self._power_sum, self._power_frames, self._power_warned = 0.0, 0, False
        set_min_output_buffer_quietly(self, 2 * MAX_FRAME_ITEMS)
        register_ports(self, {"snr_db": self._handle_snr_db})

    # -- parameters ------------------------------------------------------------
    def set_snr_db(self, snr_db):
        """The SNR from the next frames on; ``ValueError`` unless finite."""
        self._snr.set(snr_db)

    def snr_db(self) -> float:
        return self._snr.get()

    def _handle_snr_db(self, msg):
        self._snr.handle(msg)

    def bad_messages(self) -> int:
        """``snr_db`` messages (and SNR tags) ignored because they held no usable value."""
        return self._snr.bad()

    def frames(self) -> int:
        """Frames passed through the channel."""
        return self._frames

    def malformed(self) -> int:
        """Segments that were not well-formed frames (passed through as single rows)."""
        return self._log.counts.get("malformed frame", 0)

    def drop_reasons(self) -> dict:
        """Problems counted by reason (malformed frames, implausible input, input off unit power, channel
        failures)."""
        return dict(self._log.counts)

    def input_power(self) -> float:
        """Mean power of the frames received so far (NaN before the first): 1 for semcom transmitters."""
        return self._power_sum / self._power_frames if self._power_frames else float("nan")

    def _check_unit_power(self, powers) -> None:
        """The SNR is set against unit signal power: once the mean over :data:`UNIT_POWER_FRAMES` frames is
        more than 1 dB off it, say so once (counted as "input not at unit power"); the frames still pass."""
        self._power_sum += float(sum(powers))
        self._power_frames += len(powers)
        mean = self.input_power()
        if (not self._power_warned and self._power_frames >= UNIT_POWER_FRAMES
                and not UNIT_POWER_RANGE[0] <= mean <= UNIT_POWER_RANGE[1]):
            self._power_warned = True
            self._log.problem("input not at unit power", f"mean power {mean:.3g} over {self._power_frames} frames: "
                              f"the SNR actually delivered is {10 * np.log10(mean):+.1f} dB off snr_db")

    # -- processing ------------------------------------------------------------
    def _apply(self, rows: np.ndarray, snr: float):
        """(equalised symbols [B, L] complex64, noise variance [B, 1] or [B, L] float32)."""
        import torch

        from semcom_core.baselines.modulation import effective_noise_variance

        with torch.no_grad():
            out = self._channel.transmit(torch.from_numpy(rows), snr)
            noise = effective_noise_variance(out, self._pilots)
            if out.h_est.shape[-1] == 1:   # one gain per frame: one value per frame
                noise = noise[:, :1]
        return out.y_eq.to(torch.complex64).numpy(), noise.float().numpy()

    def _noise_tag(self, noise_row: np.ndarray):
        if noise_row.size == 1:
            return pmt.from_double(float(noise_row[0]))
        return pmt.init_f32vector(noise_row.size, noise_row.astype(np.float32).tolist())

    def _frame_snrs(self, good, consumed: int, snr: float) -> dict:
        """SNR of each good frame (by start): ``snr``, or with ``snr_tag_key`` the newest tagged value."""
        if self._snr_tag_key is None or not good:
            return {seg.start: snr for seg in good}
        base = self.nitems_read(0)
        tagged = {}
        for t in self.get_tags_in_window(0, 0, consumed, self._snr_tag_key):
            try:
                value = float(pmt.to_python(t.value))
            except (TypeError, ValueError):
                value = float("nan")
            if SNR_DB_RANGE[0] <= value <= SNR_DB_RANGE[1]:
                tagged[t.offset - base] = value
            else:
                self._snr.reject(f"tag {pmt.symbol_to_string(self._snr_tag_key)}={value!r}")
        out = {}
        for seg in good:
            if seg.start in tagged:
                snr = tagged[seg.start]
            out[seg.start] = snr
        if tagged:
            self.set_snr_db(snr)
        return out

    def forecast(self, noutput_items, ninputs):
        # any input will do: work() itself takes only the complete frames, so
        # the scheduler must not shrink the window to fit a sync-block forecast
        return [1] * ninputs

    def general_work(self, input_items, output_items):
        inp, out = input_items[0], output_items[0]
        n = min(len(inp), len(out))
        try:
            segments, consumed = split_frames(window_len_tags(self, n, self._len_key), n)
            if consumed == 0:
                time.sleep(0.0005)   # a frame is still arriving
                return 0
            snr = self.snr_db()
            out[:consumed] = inp[:consumed]
            good = [s for s in segments if s.ok]
            frame_snr = self._frame_snrs(good, consumed, snr)
            by_key: dict = {}
            for seg in good:
                by_key.setdefault((seg.length, frame_snr[seg.start]), []).append(seg)
            noise_tags, evm = {}, {}
            for (length, seg_snr), segs in by_key.items():
                starts = np.fromiter((s.start for s in segs), dtype=np.int64, count=len(segs))
                idx = starts[:, None] + np.arange(length)[None, :]
                sent = np.ascontiguousarray(inp[idx])
                out[idx], noise = self._apply(sent, seg_snr)
                for seg, row, value in zip(segs, noise, evm_db(out[idx], sent)):
                    noise_tags[seg.start] = self._noise_tag(row)
                    evm[seg.start] = value
            for seg in segments:
                if not seg.ok:
                    self._log.problem("malformed frame", f"{seg.length} samples, packet_len {seg.announced}")
                    sl = slice(seg.start, seg.start + seg.length)
                    out[sl] = self._apply(np.ascontiguousarray(inp[sl])[None, :], snr)[0][0]
            plausible = []
            for seg in good:
                sl = slice(seg.start, seg.start + seg.length)
                power = mean_power(inp[sl])
                if not power <= MAX_SYMBOL_POWER:          # NaN too: the frame goes out as NaN, alone
                    self._log.problem("implausible input power", f"mean power {power:.3g}")
                    out[sl] = np.nan
                else:
                    plausible.append(power)
            if plausible:
                self._check_unit_power(plausible)
            base = self.nitems_written(0)
            for seg in good:
                self.add_item_tag(0, base + seg.start, self._snr_key, pmt.from_double(frame_snr[seg.start]))
                self.add_item_tag(0, base + seg.start, self._nv_key, noise_tags[seg.start])
                if np.isfinite(evm[seg.start]):
                    self.add_item_tag(0, base + seg.start, self._evm_key, pmt.from_double(evm[seg.start]))
            self._frames += len(good)
            self.consume(0, consumed)
            return consumed
        except Exception as err:  # noqa: BLE001 - never raise inside work()
            # the receiver drops non-finite frames, so a failure shows up as lost frames
            self._log.problem("channel failure", repr(err))
            out[:n] = np.nan
            self.consume(0, n)
            return n
