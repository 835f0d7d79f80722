"""Task losses and metrics of MFMSC against hand computations."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from semcom_core.losses.multitask import task_loss
from semcom_core.metrics.tasks import TaskScore


def test_multilabel_f1_is_micro_over_all_labels():
    score = TaskScore("multilabel")
    logits = torch.tensor([[2.0, -1.0, 3.0], [-2.0, 1.0, -1.0]])
    target = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    score.add(logits, {"target": target})
    tp, fp, fn = 2, 1, 1
    assert score.value() == pytest.approx(2 * tp / (2 * tp + fp + fn))


def test_accuracy_counts_argmax_hits():
    score = TaskScore("classify")
    score.add(torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]), {"target": torch.tensor([1, 1, 1])})
    assert score.value() == pytest.approx(2 / 3)


def test_bleu_and_word_accuracy():
    text = TaskScore("text_recon")
    text.add_predictions(["the cat sat on the mat"], ["the cat sat on the mat"])
    assert text.value() == pytest.approx(1.0)
    worse = TaskScore("text_recon")
    worse.add_predictions(["the dog sat on a mat"], ["the cat sat on the mat"])
    assert 0 <= worse.value() < 0.5
    speech = TaskScore("ctc")
    speech.add_predictions(["red box two", "left"], ["red box three", "left"])
    assert speech.value() == pytest.approx(1 - 1 / 4)


def test_ctc_decoding_uses_output_lengths():
    def greedy(ids):                                 # collapse repeats, drop blanks (id 0)
        kept = [i for n, i in enumerate(ids) if i and (n == 0 or ids[n - 1] != i)]
        return "".join(" ab"[i - 1] for i in kept)

    score = TaskScore("ctc", decode_ctc=greedy)
    logits = torch.full((1, 5, 4), -5.0)
    for t, c in enumerate([2, 2, 0, 3, 3]):          # "a", "a", blank, "b", "b" -> decoder sees ids
        logits[0, t, c] = 5.0
    score.add(logits, {"transcript": ["a"]}, torch.tensor([2]))   # only the first two frames count
    assert score.value() == pytest.approx(1.0)


def test_psnr_of_images():
    score = TaskScore("image_recon")
    x = torch.full((2, 1, 4, 4), 0.5)
    score.add(x + 0.1, {"image": x})
    assert score.value() == pytest.approx(-10 * math.log10(0.01), rel=1e-4)


def test_losses_match_torch_definitions():
    logits = torch.randn(4, 3)
    target = torch.tensor([0, 2, 1, 1])
    assert task_loss("classify", logits, {"target": target}) == pytest.approx(float(F.cross_entropy(logits, target)))
    ids = torch.tensor([[5, 6, 0], [7, 0, 0]])
    tok_logits = torch.randn(2, 3, 9)
    expected = F.cross_entropy(tok_logits[ids != 0], ids[ids != 0])
    assert task_loss("text_recon", tok_logits, {"text": ids}) == pytest.approx(float(expected), rel=1e-5)
    frames = torch.randn(2, 6, 5)
    loss = task_loss("ctc", frames, {"target": torch.tensor([[1, 2], [3, 0]]), "target_len": torch.tensor([2, 1])},
                     torch.tensor([6, 4]))
    assert torch.isfinite(loss) and loss > 0
    with pytest.raises(ValueError, match="output lengths"):
        task_loss("ctc", frames, {"target": torch.tensor([[1]]), "target_len": torch.tensor([1])})
    with pytest.raises(ValueError, match="unknown task kind"):
        task_loss("regress", logits, {"target": target})
