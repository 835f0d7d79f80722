#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Learned receiver: a tagged stream of channel symbols in, reconstructed image PDUs out."""

from __future__ import annotations

from .base.semantic import SemanticReceiver


class jscc_rx(SemanticReceiver):
    """Decode frames of k symbols into images and classify them.

    Stream input: complex64 frames of ``k`` (equalised) symbols, each starting with a ``packet_len`` tag;
    quantised frames carry their side information as tags (``q``, ``z_min``, ``z_max``, as ``jscc_tx``
    writes them). Message output ``pdu``: one PDU per decoded frame, ``cons(meta, f32vector of C*H*W
    reconstructed values)`` with ``meta = {index, label, pred, seq, snr_db, ...}``: the frame's tags
    (``index``, ``label``, ``snr_db`` and any other scalar tag on its first sample), ``pred`` the bundle's
    class decision and ``seq`` a running count of decoded frames.

    Args:
        bundle_path: exported model bundle directory.
        quant_bits: as for ``jscc_tx`` (0 analog, q > 0 q-bit quantiser, -1 the bundle's).
        max_batch: frames decoded in one forward pass.
        len_tag_key: name of the frame length tag.
        torch_threads: torch intra-op threads of this block's thread; 0 keeps torch's default. The
            receiver (decoder + classifier) is the heavier half: on 2 cores, 2 threads here and 1 in
            jscc_tx measured fastest.
        precision: the networks' arithmetic: "auto" (bfloat16 where the CPU computes it natively, else
            float32), "fp32" or "bf16" (``semcom_core.bundles.precision``).

    Frames of the wrong length, with NaN/inf symbols or with missing or contradictory side information
    are dropped and counted (``dropped()``, ``drop_reasons()``), each reason logged once.
    """

    def __init__(self, bundle_path="", quant_bits=0, max_batch=64, len_tag_key="packet_len", torch_threads=2,
                 precision="auto"):
        super().__init__("semcom_jscc_rx", bundle_path, quant_bits, inline_header=False, max_batch=max_batch,
                         len_tag_key=len_tag_key, torch_threads=torch_threads, full_frames=True, precision=precision)
