#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""MIJSCC / A-MIJSCC receiver: framed symbols in (header with side info + payload), image PDUs out."""

from __future__ import annotations

from .base.semantic import FRAME_LOG_MAX, SemanticReceiver  # noqa: F401 - FRAME_LOG_MAX: part of the API


class mijscc_rx(SemanticReceiver):
    """Parse self-describing frames and decode them with a MIJSCC / A-MIJSCC bundle.

    Stream input: complex64 frames as written by ``mijscc_tx`` (after a
    channel): each starts with a ``packet_len`` tag giving its length, which
    varies with the A-MIJSCC mask. The header is decoded with
    ``semcom_core.symbols.parse_frames`` (all frames of a ``work()`` call in
    one batch) and checked against the bundle
    (``SideInfo.problem(k, q)``); the payloads go through
    ``Bundle.receive``.

    Message output ``pdu``: ``cons(meta, f32vector of C*H*W reconstructed
    values)`` per decoded frame, with ``meta = {index, label, pred, end,
    gamma (end / k), symbols (frame length), seq, snr_db, noise_var, ...}``:
    the scalar tags of the frame's first sample (``snr_db`` and ``noise_var``
    come from the channel block, ``tx_noise_var`` from the transmitter), the
    header's ``end``, and ``pred`` the bundle's class decision from the
    received latent. ``metrics_sink`` takes these PDUs on its ``rx`` port.

    Dropped and counted by reason (``drop_reasons()``), each reason logged
    once, the flowgraph going on: untagged samples, truncated frames (cut
    short by the next tag, or shorter than the header), ``header CRC
    failure``, ``unknown frame version``, ``payload length mismatch``,
    ``non-finite samples``, ``inconsistent side information`` (q, end or the
    quantiser range contradict the bundle) and decoder failures.

    With ``inline_header=False`` the frames are payloads alone, as ``ofdm_rx``
    writes them, and the side information comes from their tags (``q``,
    ``end``, ``z_min``, ``z_max``, ``bundle_id``): a frame from another bundle
    is dropped as ``bundle mismatch``, one without side information as
    ``missing side information``.

    Args:
        bundle_path: exported MIJSCC / A-MIJSCC bundle.
        quant_bits: as for ``mijscc_tx`` (0 analog, q > 0, -1 the bundle's).
        max_batch: frames decoded in one forward pass.
        len_tag_key: name of the frame length tag.
        torch_threads: torch intra-op threads of this block's thread; 0 keeps torch's default.
        precision: the networks' arithmetic: "auto" (bfloat16 where the CPU computes it natively, else
            float32), "fp32" or "bf16" (``semcom_core.bundles.precision``).
        inline_header: frames carry the symbol-level header (True) or their side information as tags.

    Getters: ``decoded()``, ``dropped()``, ``drop_reasons()``, ``frame_log()``
    (per decoded frame ``{index, end, symbols, snr_db, tx_noise_var, pred,
    label}``, the newest ``FRAME_LOG_MAX``).
    """

    def __init__(self, bundle_path="", quant_bits=-1, max_batch=64, len_tag_key="packet_len", torch_threads=2,
                 inline_header=True, precision="auto"):
        super().__init__("semcom_mijscc_rx", bundle_path, quant_bits, inline_header, max_batch, len_tag_key,
                         torch_threads, precision=precision)
