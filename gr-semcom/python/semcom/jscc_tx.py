#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Learned transmitter: image PDUs in, a tagged stream of channel symbols out."""

from __future__ import annotations

from .base.semantic import SemanticTransmitter


class jscc_tx(SemanticTransmitter):
    """Encode image PDUs into frames of k unit-power complex symbols.

    Message input ``pdu``: ``cons(meta, f32vector of C*H*W values in [0,1])`` (as emitted by
    ``image_source``). Stream output: complex64, one frame of ``k`` symbols per image, with tags on the
    first sample of each frame: ``packet_len`` (k; the key is the ``len_tag_key`` argument), ``index`` and
    ``label`` (when the metadata has them) and, with quantisation, the side information ``q``, ``z_min`` and
    ``z_max`` (the quantiser's range).

    Args:
        bundle_path: exported model bundle directory.
        quant_bits: 0 analog symbols; q > 0 the q-bit quantiser and 2^(2q)-QAM mapper; -1 the bundle's own.
        max_batch: images encoded in one forward pass.
        len_tag_key: name of the frame length tag.
        torch_threads: torch intra-op threads of this block's thread (GNU Radio runs blocks in parallel
            already); 0 keeps torch's default.
        precision: the networks' arithmetic: "auto" (bfloat16 where the CPU computes it natively, else
            float32), "fp32" or "bf16" (``semcom_core.bundles.precision``).

    The message handler only queues PDUs; ``work()`` encodes everything queued (up to ``max_batch``) at
    once. PDUs of the wrong size or with non-finite values are dropped and counted (``dropped()``,
    ``drop_reasons()``), each reason logged once.
    """

    def __init__(self, bundle_path="", quant_bits=0, max_batch=64, len_tag_key="packet_len", torch_threads=1,
                 precision="auto"):
        super().__init__("semcom_jscc_tx", bundle_path, quant_bits, adaptive=False, inline_header=False,
                         max_batch=max_batch, len_tag_key=len_tag_key, torch_threads=torch_threads,
                         tag_bundle_id=False, precision=precision)
