#!/usr/bin/env python3
"""Why the embedded VQA task stayed at its question-only prior: the same data through three readouts.

Each variant sees the scene through the MFMSC image encoder and the question through a text model, with no
channel, and is trained on VQA alone; accuracy is reported per question kind beside the question-only prior.

* ``flatten``: the 16 image tokens flattened, plus a bag of question words, into a two-layer MLP. It keeps
  every token's position and lets the MLP combine them freely: a check that the data can be learned.
* ``fusion-post``: the MFMSC fusion module as the paper prints it (post-LN layers, dropout 0.1), then a
  two-layer head on its mean-pooled output.
* ``fusion-pre``: the same module with pre-LN layers and no dropout (``model.fusion_norm: pre``,
  ``model.fusion_dropout: 0``).

Usage: .venv/bin/python scripts/vqa_fusion_study.py [--scenes 3000] [--epochs 4] [--layers 2]
       [--variants flatten fusion-post fusion-pre]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from semcom_core.baselines.multitask import question_prior_accuracy
from semcom_core.data.mfmsc.tasks import build_tasks
from semcom_core.models.mfmsc.encoders import ImageEncoder, TextEncoder
from semcom_core.models.mfmsc.fusion import FusionModule
from semcom_core.runs.config import load_config

DIM = 96
KINDS = ("what", "exists", "count")
VARIANTS = ("flatten", "fusion-post", "fusion-pre")


def question_kind(question: str) -> int:
    return 0 if question.startswith("what") else 1 if question.startswith("is there") else 2


class FlattenMLP(nn.Module):
    def __init__(self, vocab_size: int, answers: int):
        super().__init__()
        self.image = ImageEncoder(1, DIM, 32)
        self.words = nn.Embedding(vocab_size, DIM, padding_idx=0)
        self.mlp = nn.Sequential(nn.Linear(16 * DIM + DIM, 256), nn.ReLU(), nn.Linear(256, answers))

    def forward(self, batch: dict) -> torch.Tensor:
        tokens, _ = self.image(batch["image"])
        question = self.words(batch["text"]).sum(1)          # padding embeds to zero
        return self.mlp(torch.cat([tokens.flatten(1), question], 1))


class FusionReadout(nn.Module):
    def __init__(self, vocab_size: int, answers: int, layers: int, pre_norm: bool):
        super().__init__()
        self.image = ImageEncoder(1, DIM, 32)
        self.text = TextEncoder(vocab_size, DIM, 2, 4, max_len=32)
        self.fusion = FusionModule(DIM, layers, 12, 4, dropout=0.0 if pre_norm else 0.1, pre_norm=pre_norm)
        self.task = nn.Parameter(torch.randn(1, 1, DIM))
        self.head = nn.Sequential(nn.Linear(DIM, DIM), nn.ReLU(), nn.Linear(DIM, answers))

    def forward(self, batch: dict) -> torch.Tensor:
        image, text = self.image(batch["image"]), self.text(batch["text"])
        task = self.task.expand(batch["image"].shape[0], 1, DIM)
        return self.head(self.fusion([image, text], [0, 1], task))


def build(variant: str, vocab_size: int, answers: int, layers: int) -> nn.Module:
    if variant == "flatten":
        return FlattenMLP(vocab_size, answers)
    return FusionReadout(vocab_size, answers, layers, pre_norm=variant == "fusion-pre")


def per_kind_accuracy(model: nn.Module, test) -> tuple[float, list[float]]:
    batch = test.batch(np.arange(len(test)))
    model.eval()
    with torch.no_grad():
        right = (model(batch).argmax(1) == batch["target"]).numpy()
    kinds = np.array([question_kind(q) for q in test.raw["text"]])
    return float(right.mean()), [float(right[kinds == k].mean()) for k in range(len(KINDS))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenes", type=int, default=3000, help="training scenes")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--layers", type=int, default=2, help="fusion layers")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cfg = load_config("configs/mfmsc/embedded/base.yaml",
                      {"tasks": ["vqa"], "data": {"train_size_per_task": {"vqa": args.scenes}}}, family="mfmsc")
    train, test, tokenizer = build_tasks(cfg)
    train, test = train["vqa"], test["vqa"]
    print(f"vqa: {len(train)} training scenes, {len(test)} test; question-only prior "
          f"{question_prior_accuracy(train, test):.3f}")
    for variant in args.variants:
        torch.manual_seed(args.seed)
        model = build(variant, tokenizer.vocab_size, train.outputs, args.layers)
        optimiser = torch.optim.Adam(model.parameters(), 1e-3)
        started = time.time()
        for epoch in range(args.epochs):
            model.train()
            order = np.random.default_rng([args.seed, epoch]).permutation(len(train))
            losses = []
            for start in range(0, len(order), 32):
                batch = train.batch(order[start:start + 32])
                loss = nn.functional.cross_entropy(model(batch), batch["target"])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                losses.append(loss.item())
            accuracy, kinds = per_kind_accuracy(model, test)
            print(f"{variant:12s} epoch {epoch + 1}: training loss {np.mean(losses):.3f}, test accuracy "
                  f"{accuracy:.3f} (" + ", ".join(f"{k} {a:.3f}" for k, a in zip(KINDS, kinds))
                  + f"), {time.time() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
