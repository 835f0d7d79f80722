"""MFMSC system: task routing, symbols sent, Algorithm 1's per-task optimisers, bundles, evaluation, classical links."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from semcom_core.bundles import BundleError
from semcom_core.channels import make_channel
from semcom_core.data.mfmsc.tasks import TASKS, build_tasks
from semcom_core.bundles.mfmsc import load_mfmsc_bundle
from semcom_core.runs.config import load_config
from semcom_core.runs.mfmsc import MultiTaskModule, TaskSchedule, build_system, evaluate_task, train_run

SMALL = {"data": {"train_size": 24, "test_size": 12, "vocab_size": 400},
         "model": {"dim": 24, "image_width": 8, "speech_channels": [4, 8], "fusion_layers": 2, "fusion_heads": 12,
                   "encoder_heads": 4, "channel_hidden": 16, "symbols_per_token": 4, "text_layers": 1,
                   "speech_layers": 1, "video_layers": 1, "vit_layers": 1},
         "train": {"epochs": 1, "batch_size": 8}, "trainer": {"progress_bar": False}}


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    cfg = load_config(None, SMALL, {"data": {"cache_dir": str(tmp_path_factory.mktemp("cache"))}}, family="mfmsc")
    return cfg, build_tasks(cfg)


def _system(cfg, data, arch):
    train, _, tokenizer = data
    return build_system(dict(cfg, arch=arch), train, dict(cfg["data"], vocab_size=tokenizer.vocab_size))


def test_embedded_tasks_have_consistent_tensors(small_data):
    cfg, (train, test, tokenizer) = small_data
    assert set(train) == set(TASKS)
    for name, data in train.items():
        sizes = {len(v) for v in data.tensors.values()}
        assert sizes == {24}, name
        for key, value in data.tensors.items():
            if value.is_floating_point():
                assert torch.isfinite(value).all(), (name, key)
    assert train["text_cls"].tensors["text"].max() < tokenizer.vocab_size
    assert (train["speech_asr"].tensors["speech_len"] <= cfg["data"]["speech_frames"]).all()
    assert train["poster"].tensors["target"].sum(1).min() >= 2        # at least one image and one text label
    # a split's prefix (what the classical links evaluate) mixes the classes
    assert len(set(test["text_cls"].tensors["target"][:6].tolist())) > 1


@pytest.mark.parametrize("arch", ["mfmsc", "mmsc", "udeepsc"])
def test_symbols_sent_per_instance(small_data, arch):
    cfg, data = small_data
    system = _system(cfg, data, arch).eval()
    test = data[1]
    per_token = cfg["model"]["symbols_per_token"]
    channel = make_channel("awgn")
    with torch.no_grad():
        for name in ("vqa", "text_recon", "image_cls"):
            batch = test[name].batch(range(6))
            tokens, mask = system.semantic_tokens(name, batch)
            _, sent = system(name, batch, channel, 10.0)
            assert torch.equal(sent.symbols, mask.sum(1) * per_token)
            if name == "vqa" and arch == "mfmsc":
                assert (sent.symbols == per_token).all()                 # one fused vector
            if name == "vqa" and arch == "mmsc":
                text_tokens = (batch["text"] != 0).sum(1)
                assert torch.equal(mask.sum(1), 1 + 16 + text_tokens)      # task + image + text tokens


def test_power_is_unit_over_the_symbols_really_sent(small_data):
    cfg, data = small_data
    system = _system(cfg, data, "mmsc").eval()
    captured = {}

    class Probe(torch.nn.Module):
        def forward(self, s, snr_db):
            captured["s"] = s
            return s

    batch = data[1]["vqa"].batch(range(8))                          # short questions: padded
    with torch.no_grad():
        _, sent = system("vqa", batch, Probe(), 10.0)
    s = captured["s"]
    power = (s.abs() ** 2).sum(1) / sent.symbols
    assert torch.allclose(power, torch.ones_like(power), atol=1e-4)
    assert sent.symbols.min() < s.shape[1]                                 # padding really left out


def test_schedule_uses_every_batch_once_and_draws_tasks_uniformly(small_data):
    _, (train, _, _) = small_data
    schedule = TaskSchedule(train, 8, seed=3)
    plan = schedule.plan(0)
    for name, data in train.items():
        used = np.concatenate([idx for task, idx in plan if task == name])
        assert sorted(used.tolist()) == list(range(len(data)))
    assert len(plan) == len(schedule)
    # with equal batch counts per task, early steps hit every task about equally often
    firsts = [schedule.plan(e)[0][0] for e in range(400)]
    counts = np.array([firsts.count(name) for name in train])
    assert counts.min() > 400 / len(train) * 0.5
    assert [t for t, _ in schedule.plan(5)] == [t for t, _ in TaskSchedule(train, 8, seed=3).plan(5)]


def test_per_task_optimiser_touches_only_its_task(small_data):
    cfg, data = small_data
    train = data[0]
    system = _system(cfg, data, "mfmsc")
    module = MultiTaskModule(system, train, cfg)
    optimisers = module.configure_optimizers()
    before = {k: v.clone() for k, v in system.state_dict().items()}
    index = module.names.index("image_cls")
    optimisers[index].zero_grad(set_to_none=True)
    loss, _ = module.task_step("image_cls", train["image_cls"].batch(range(8)), 10.0)
    loss.backward()
    optimisers[index].step()
    after = system.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert any(k.startswith("heads.image_cls.") for k in changed)
    assert any(k.startswith("encoders.image.") for k in changed)
    assert any(k.startswith("channel_encoder.") for k in changed)
    for k in changed:
        assert not k.startswith(("heads.vqa", "heads.poster", "heads.text", "heads.speech", "heads.video",
                                 "heads.image_recon", "encoders.text", "encoders.speech", "encoders.video",
                                 "fusion.")), k
    # the vqa optimiser holds the fusion module and both encoders, the image_cls one does not
    vqa_params = {id(p) for p in system.task_parameters("vqa")}
    assert all(id(p) in vqa_params for p in system.fusion.parameters())
    assert not any(id(p) in {id(q) for q in system.task_parameters("image_cls")} for p in system.fusion.parameters())


def test_bad_inputs_are_clear_errors(small_data):
    cfg, data = small_data
    system = _system(cfg, data, "mfmsc").eval()
    channel = make_channel("awgn")
    batch = data[1]["image_cls"].batch(range(4))
    batch["image"][0, 0, 0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="image input"):
        system("image_cls", batch, channel, 10.0)
    with pytest.raises(ValueError, match="no task"):
        system("sentiment", batch, channel, 10.0)
    with pytest.raises(ValueError, match="no 'text' input"):
        system("vqa", data[1]["image_cls"].batch(range(4)), channel, 10.0)


def test_train_bundle_evaluate_round_trip(small_data, tmp_path):
    cfg, data = small_data
    cfg = dict(cfg, tasks=["image_cls", "vqa", "speech_asr"])
    out = train_run(cfg, tmp_path / "run", data=data)
    card = json.loads((out / "card.json").read_text())
    assert card["format"] == "semcom-bundle/2" and card["family"] == "mfmsc" and card["steps"] == 3 * 3
    history = json.loads((out / "history.json").read_text())
    assert {h["task"] for h in history} == {"image_cls", "vqa", "speech_asr"}
    system, card, tokenizer = load_mfmsc_bundle(out)
    assert list(system.tasks) == cfg["tasks"]
    assert tokenizer.vocab_size == data[2].vocab_size
    test = data[1]
    for name in cfg["tasks"]:
        result = evaluate_task(system, test[name], "awgn", 10.0)
        again = evaluate_task(system, test[name], "awgn", 10.0)
        assert result == again                                              # seeded
        assert result["samples"] == len(test[name])
    # corrupt weights: a clear BundleError
    (out / "weights.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(BundleError, match="weights.safetensors"):
        load_mfmsc_bundle(out)
    with pytest.raises(BundleError, match="card.json"):
        load_mfmsc_bundle(tmp_path)


def test_classical_links_deliver_at_high_snr_and_lose_at_low(small_data, tmp_path):
    from semcom_core.baselines.multitask import evaluate_classical, send_items

    cfg, data = small_data
    test = data[1]
    texts = test["text_recon"].raw["text"][:4]
    received, stats = send_items("text", texts, "awgn", 20.0)
    assert received == texts and stats["delivered"] == 4
    assert stats["payload_bytes"] == pytest.approx(np.mean([len(t.encode()) for t in texts]))
    lost, stats_low = send_items("text", texts, "awgn", -10.0)
    assert stats_low["delivered"] < 4 and lost.count(None) == 4 - stats_low["delivered"]
    images = test["image_recon"].raw["image"][:3]
    got, _ = send_items("image", images, "awgn", 20.0)
    assert all(g.shape == images[0].shape for g in got)
    assert np.mean([np.abs(g - i).mean() for g, i in zip(got, images)]) < 0.05     # JPEG quality 75
    system = _system(cfg, data, "mfmsc").eval()
    good = evaluate_classical(system, test["text_recon"], "awgn", 20.0, data[2], max_items=6)
    bad = evaluate_classical(system, test["text_recon"], "awgn", -10.0, data[2], max_items=6)
    assert good["bleu"] == pytest.approx(1.0) and good["delivered"] == 1.0
    assert bad["bleu"] < good["bleu"]
    vqa = evaluate_classical(system, test["vqa"], "rayleigh", 10.0, data[2], max_items=6)
    assert set(vqa["links"]) == {"image", "text"} and 0 <= vqa["accuracy"] <= 1
    assert vqa["channel_uses_per_instance"] > 0


def test_learning_rate_warms_up_per_task(small_data):
    cfg, data = small_data
    cfg = dict(cfg, train=dict(cfg["train"], lr=1e-3, warmup_steps=4))
    system = _system(cfg, data, "mfmsc")
    module = MultiTaskModule(system, data[0], cfg)
    optimisers = dict(zip(module.names, module.configure_optimizers()))
    batch = data[0]["text_cls"].batch(range(8))
    rates = []
    for _ in range(6):
        module.optimise("text_cls", batch, optimisers["text_cls"])
        rates.append(optimisers["text_cls"].param_groups[0]["lr"])
    assert rates == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3])
    module.optimise("image_cls", data[0]["image_cls"].batch(range(8)), optimisers["image_cls"])
    assert optimisers["image_cls"].param_groups[0]["lr"] == pytest.approx(2.5e-4)   # its own count
