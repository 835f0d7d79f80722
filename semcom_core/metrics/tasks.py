"""Task metrics of MFMSC (Section III-C), accumulated over a whole test set.

accuracy (classification, VQA), micro F1 at threshold 0.5 (multi-label), corpus BLEU-4 in [0, 1]
(text reconstruction, on detokenised text), word accuracy = 1 - WER (speech recognition, greedy CTC
decoding; can fall below 0 when the recogniser inserts many words), mean per-image PSNR in dB
(image reconstruction, peak 1).
"""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics.functional.text import bleu_score, word_error_rate

from .image import psnr

__all__ = ["METRIC_OF_KIND", "TaskScore"]

METRIC_OF_KIND = {"classify": "accuracy", "multilabel": "f1", "text_recon": "bleu", "ctc": "word_accuracy",
                  "image_recon": "psnr"}


class TaskScore:
    """Accumulates one task's metric batch by batch.

    Args:
        kind: the task kind (:data:`METRIC_OF_KIND`).
        decode_text: ids [L] -> str, for ``text_recon`` (the tokenizer's decode).
        decode_ctc: per-frame best ids [T] -> str, for ``ctc`` (greedy CTC decoding).
    """

    def __init__(self, kind: str, decode_text=None, decode_ctc=None):
        if kind not in METRIC_OF_KIND:
            raise ValueError(f"unknown task kind {kind!r}")
        self.kind, self.metric = kind, METRIC_OF_KIND[kind]
        self.decode_text, self.decode_ctc = decode_text, decode_ctc
        self.count = 0
        self.total = 0.0
        self.tp = self.fp = self.fn = 0
        self.hypotheses: list[str] = []
        self.references: list[str] = []

    def add_predictions(self, predictions, references) -> None:
        """Add decoded items directly (classes, multi-hot rows, strings or images)."""
        if self.kind == "classify":
            self.total += float((torch.as_tensor(predictions) == torch.as_tensor(references)).sum())
        elif self.kind == "multilabel":
            pred, ref = torch.as_tensor(predictions).bool(), torch.as_tensor(references).bool()
            self.tp += int((pred & ref).sum())
            self.fp += int((pred & ~ref).sum())
            self.fn += int((~pred & ref).sum())
        elif self.kind in ("text_recon", "ctc"):
            self.hypotheses += list(predictions)
            self.references += list(references)
        else:
            pred, ref = (torch.as_tensor(np.asarray(x)) if isinstance(x, list) else torch.as_tensor(x)
                         for x in (predictions, references))
            self.total += float(psnr(pred.float(), ref.float()).sum())
        self.count += len(references)

    def add(self, output: torch.Tensor, batch: dict, output_lengths: torch.Tensor | None = None) -> None:
        """Add one batch of network outputs."""
        if self.kind == "classify":
            self.add_predictions(output.argmax(-1), batch["target"])
        elif self.kind == "multilabel":
            self.add_predictions(output > 0, batch["target"])
        elif self.kind == "text_recon":
            ids = batch["text"]
            best = output.argmax(-1).masked_fill(ids == 0, 0)
            self.add_predictions([self.decode_text(row.tolist()) for row in best],
                                 [self.decode_text(row.tolist()) for row in ids])
        elif self.kind == "ctc":
            best = output.argmax(-1)
            hyps = [self.decode_ctc(row[:n].tolist()) for row, n in zip(best, output_lengths.tolist())]
            self.add_predictions(hyps, batch["transcript"])
        else:
            self.add_predictions(output, batch["image"])

    def value(self) -> float:
        if self.count == 0:
            raise ValueError("no samples scored")
        if self.kind == "multilabel":
            return 2 * self.tp / max(2 * self.tp + self.fp + self.fn, 1)
        if self.kind == "text_recon":
            return float(bleu_score(self.hypotheses, [[r] for r in self.references], n_gram=4))
        if self.kind == "ctc":
            return 1.0 - float(word_error_rate(self.hypotheses, self.references))
        return self.total / self.count
