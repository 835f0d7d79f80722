"""The MFMSC tasks are learnable and checkable: topic sentences, the VQA question-only prior, image token
positions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semcom_core.baselines.multitask import question_prior_accuracy
from semcom_core.data.mfmsc.tasks import TASKS, TaskData
from semcom_core.data.mfmsc.topics import TOPIC_WORDS, TOPICS, topic_sentences
from semcom_core.metrics.linear_probe import linear_probe_accuracy
from semcom_core.models.mfmsc.encoders import ImageEncoder


def _bag_of_words(texts, vocabulary):
    index = {w: i for i, w in enumerate(vocabulary)}
    x = torch.zeros(len(texts), len(vocabulary))
    for row, text in enumerate(texts):
        for word in text.split():
            if word in index:
                x[row, index[word]] += 1
    return x


def test_topic_sentences_are_balanced_deterministic_and_learnable_by_a_linear_model():
    train, y_train = topic_sentences("train", 800, seed=3)
    test, y_test = topic_sentences("test", 400, seed=3)
    assert topic_sentences("train", 800, seed=3)[0] == train
    assert set(train).isdisjoint(test) or len(set(train) & set(test)) < 5
    assert np.bincount(y_train).tolist() == [200] * len(TOPICS)
    # every sentence holds at least two words of its own topic
    for text, label in zip(train[:100], y_train[:100]):
        assert sum(w in TOPIC_WORDS[TOPICS[label]] for w in text.split()) >= 2
    vocabulary = sorted({w for t in train for w in t.split()})
    acc = linear_probe_accuracy(_bag_of_words(train, vocabulary), torch.as_tensor(y_train),
                                _bag_of_words(test, vocabulary), torch.as_tensor(y_test), weight_decay=1e-3)
    assert acc >= 0.9, acc
    with pytest.raises(ValueError, match="split"):
        topic_sentences("dev", 10)


def _vqa(questions, answers):
    return TaskData(TASKS["vqa"], {"target": torch.as_tensor(answers)}, 3, raw={"text": list(questions)})


def test_question_prior_answers_from_the_question_alone():
    train = _vqa(["is there a bag?", "is there a bag?", "is there a bag?", "how many shoes?"], [1, 1, 0, 2])
    test = _vqa(["is there a bag?", "how many shoes?", "never seen?", "is there a bag?"], [1, 2, 1, 0])
    # bag -> 1 (2 of 3), shoes -> 2, unseen -> overall most frequent (1): right on 3 of 4
    assert question_prior_accuracy(train, test) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="raw"):
        question_prior_accuracy(TaskData(TASKS["vqa"], {"target": torch.zeros(1)}, 3), test)


def test_image_tokens_know_where_they_are():
    torch.manual_seed(0)
    encoder = ImageEncoder(dim=16, width=4).eval()
    flat = torch.full((1, 1, 28, 28), 0.5)
    tokens, mask = encoder(flat)
    assert tokens.shape == (1, 16, 16) and bool(mask.all())
    # a uniform image: interior tokens differ by their position embeddings (a convolution alone tells
    # them apart only by the zero padding its receptive field reaches: a far smaller difference)
    def interior_spread():
        inner = encoder(flat)[0][0].reshape(4, 4, 16)[1:3, 1:3].reshape(4, 16)
        return float(torch.cdist(inner, inner).triu(1).max())

    with torch.no_grad():
        with_positions = interior_spread()
        encoder.rows.zero_()
        encoder.cols.zero_()
        assert with_positions > 5 * interior_spread()
    with pytest.raises(ValueError, match="max_grid"):
        ImageEncoder(dim=16, width=4, max_grid=2)(flat)


def test_a_task_can_have_more_training_instances_than_the_others():
    from semcom_core.data.mfmsc.tasks import build_tasks
    from semcom_core.runs.config import ConfigError, load_config

    cfg = load_config(None, {"tasks": ["image_cls", "text_cls"],
                             "data": {"train_size": 20, "test_size": 10, "train_size_per_task": {"text_cls": 60}}},
                      family="mfmsc")
    train, test, _ = build_tasks(cfg)
    assert len(train["image_cls"]) == 20 and len(train["text_cls"]) == 60
    assert len(test["image_cls"]) == len(test["text_cls"]) == 10          # the test split keeps one size
    with pytest.raises(ConfigError, match="train_size_per_task"):
        load_config(None, {"data": {"train_size_per_task": {"speech": 10}}}, family="mfmsc")


def test_fusion_layers_follow_the_config():
    from semcom_core.methods.mfmsc import MFMSCSystem
    from semcom_core.models.mfmsc.heads import TaskHeadSpec
    from semcom_core.runs.config import ConfigError, load_config

    vqa = TaskHeadSpec("vqa", ("image", "text"), "classify", 5)
    geometry = {"vocab_size": 50, "text_max_len": 8}
    model = load_config(None, {"model": {"fusion_layers": 3, "fusion_norm": "pre", "fusion_dropout": 0.0}},
                        family="mfmsc")["model"]
    layers = MFMSCSystem([vqa], "mfmsc", model, geometry).fusion.transformer
    assert len(layers.layers) == 3 and all(layer.norm_first for layer in layers.layers)
    assert all(layer.dropout.p == 0.0 for layer in layers.layers)
    assert isinstance(layers.final_norm, torch.nn.LayerNorm)          # pre-LN stacks end with a LayerNorm
    post = MFMSCSystem([vqa], "mfmsc", load_config(None, {}, family="mfmsc")["model"], geometry).fusion.transformer
    assert not any(layer.norm_first for layer in post.layers) and post.layers[0].dropout.p == 0.1
    with pytest.raises(ConfigError, match="fusion_dropout"):
        load_config(None, {"model": {"fusion_dropout": 1.0}}, family="mfmsc")
