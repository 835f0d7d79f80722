#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""MIJSCC / A-MIJSCC transmitter: image PDUs in, framed symbols (header with side info + payload) out."""

from __future__ import annotations


from .base.log import MessageSetting
from .base.pdu import checked_noise_var, level_of, register_ports
from .base.semantic import SemanticTransmitter


def noise_var_of(msg) -> float:
    """The noise variance a ``noise_var`` message asks for: a PMT number (the variance), or a dict
    with ``noise_var`` or ``snr_db``. Raises ``ValueError`` when it holds no usable value."""
    from semcom_core.units import noise_var_from_snr_db

    kind, value = level_of(msg, "noise_var")
    return checked_noise_var(value if kind == "noise_var" else noise_var_from_snr_db(value))


class mijscc_tx(SemanticTransmitter):
    """Encode image PDUs into self-describing frames for MIJSCC / A-MIJSCC bundles.

    Message input ``pdu``: image PDUs as from ``image_source``. Message input
    ``noise_var``: the channel's noise variance per complex symbol, as
    feedback would supply it: a PMT number, or a dict with ``noise_var`` or
    ``snr_db``. The newest value applies to the images encoded next; invalid
    values are counted (``bad_noise_var()``) and ignored. A PDU whose metadata
    has ``noise_var`` (``snr_schedule`` adds it) is encoded with that value
    instead, so a schedule is followed image by image, independently of how
    the scheduler interleaves the two ports.

    Stream output: complex64, one frame per image,
    ``semcom_core.symbols.frame_symbols(payload, side)``: ``HEADER_SYMBOLS``
    header symbols (q, end, z_min, z_max, CRC-16, rate-1/2 convolutional code,
    QPSK) followed by the ``end`` payload symbols, so frames have variable
    length. Tags on each frame's first sample: ``packet_len`` (the frame
    length; key ``len_tag_key``), ``index`` and ``label`` (from the PDU
    metadata), ``end``, ``tx_noise_var`` (the noise variance the mask was
    computed for; not ``noise_var``, which the channel block adds with the
    noise of the equalised symbols) and ``tx_snr_db`` (the same in dB; a
    channel with ``snr_tag_key="tx_snr_db"`` follows it frame by frame).

    With ``inline_header=False`` (for a physical layer that sends the side
    information in a header of its own, such as ``ofdm_tx``) a frame is the
    payload alone, and the side information travels as tags: ``q``, ``end``,
    ``z_min``, ``z_max`` and ``bundle_id`` (``Bundle.bundle_id``). A frame whose
    mask switched every symbol off (``end`` 0) is one zero symbol.

    Args:
        bundle_path: exported MIJSCC / A-MIJSCC bundle (``Bundle.transmit``).
        quant_bits: 0 analog, q > 0 a q-bit quantiser, -1 the bundle's own.
        adaptive: apply the A-MIJSCC noise-adaptive mask (bundles without one
            always send all k symbols).
        noise_var: initial noise variance; <= 0 uses the bundle's default (the
            middle of its training SNR range).
        max_batch: images encoded in one forward pass.
        len_tag_key: name of the frame length tag.
        torch_threads: torch intra-op threads of this block's thread; 0 keeps torch's default.
        precision: the networks' arithmetic: "auto" (bfloat16 where the CPU computes it natively, else
            float32), "fp32" or "bf16" (``semcom_core.bundles.precision``).
        inline_header: put the header in front of the payload (True) or send
            the side information as tags (False).

    Getters: ``sent()``, ``dropped()``, ``drop_reasons()``, ``symbols_sent()``
    (all output symbols, headers included), ``payload_symbols_sent()``,
    ``last_end()``, ``noise_var()``.
    """

    def __init__(self, bundle_path="", quant_bits=-1, adaptive=True, noise_var=0.0, max_batch=64,
                 len_tag_key="packet_len", torch_threads=1, inline_header=True, precision="auto"):
        super().__init__("semcom_mijscc_tx", bundle_path, quant_bits, adaptive, inline_header, max_batch,
                         len_tag_key, torch_threads, precision=precision)
        self._nv = MessageSetting(f"semcom_mijscc_tx{self.unique_id()}", "noise_var", noise_var_of, checked_noise_var,
                                  noise_var if float(noise_var) > 0 else None)
        self._payload_symbols = 0
        self._last_end = -1
        register_ports(self, {"noise_var": self._handle_noise_var})

    # -- parameters and getters ------------------------------------------------
    def set_noise_var(self, noise_var) -> None:
        """Noise variance for the next images (finite, > 0); raises ValueError otherwise."""
        self._nv.set(noise_var)

    def noise_var(self) -> float:
        """The current noise variance (the bundle's default until one is set)."""
        nv = self._nv.get()
        return self.bundle.default_noise_var() if nv is None else nv

    def payload_symbols_sent(self) -> int:
        return self._payload_symbols

    def last_end(self) -> int:
        """Payload symbols of the last frame written (-1 before the first)."""
        return self._last_end

    def _handle_noise_var(self, msg):
        self._nv.handle(msg)

    def bad_noise_var(self) -> int:
        """``noise_var`` messages ignored because they held no usable value."""
        return self._nv.bad()

    # -- hooks of SemanticTransmitter ---------------------------------------------
    def noise_var_for(self, meta: dict) -> float:
        if "noise_var" in meta:
            try:
                return checked_noise_var(meta["noise_var"])
            except ValueError as err:
                self._nv.reject(f"in PDU metadata: {err}")
        return self.noise_var()

    def extra_tags(self, noise_var) -> dict:
        from semcom_core.units import snr_db_from_noise_var

        return {"tx_noise_var": float(noise_var), "tx_snr_db": float(snr_db_from_noise_var(noise_var))}

    def written(self, frame, tags) -> None:
        end = int(tags.get("end", frame.size))    # not tagged when it is the frame's length
        self._payload_symbols += end
        self._last_end = end
