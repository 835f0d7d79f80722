"""The task losses of MFMSC (Section III-C), one per kind of task output."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["task_loss"]


def task_loss(kind: str, output: torch.Tensor, batch: dict, output_lengths: torch.Tensor | None = None,
              pad_id: int = 0) -> torch.Tensor:
    """Loss of one batch.

    - ``classify`` (classification, VQA as answer classification): cross entropy on ``target`` [B].
    - ``multilabel`` (poster genres): binary cross entropy with logits on the multi-hot ``target`` [B, C].
    - ``text_recon``: token-level cross entropy against the sent token ids ``text`` [B, L], pads ignored.
    - ``ctc`` (speech recognition): CTC over the output frames (``output_lengths``) against the character
      ids ``target`` [B, S] of lengths ``target_len``; blank is id 0.
    - ``image_recon``: mean squared error against ``image``.
    """
    target = batch.get("target")
    if kind == "classify":
        return F.cross_entropy(output, target)
    if kind == "multilabel":
        return F.binary_cross_entropy_with_logits(output, target.float())
    if kind == "text_recon":
        ids = batch["text"]
        return F.cross_entropy(output.reshape(-1, output.shape[-1]), ids.reshape(-1), ignore_index=pad_id)
    if kind == "ctc":
        if output_lengths is None:
            raise ValueError("the CTC loss needs the output lengths")
        log_probs = output.log_softmax(-1).transpose(0, 1)            # [T, B, C]
        return F.ctc_loss(log_probs, target, output_lengths, batch["target_len"], blank=0,
                          zero_infinity=True)
    if kind == "image_recon":
        return F.mse_loss(output, batch["image"])
    raise ValueError(f"unknown task kind {kind!r}")
