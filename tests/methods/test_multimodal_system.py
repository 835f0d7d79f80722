"""The multi-modal system: devices and channels, fine-tuning rounds, bundles, bad input, DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from semcom_core.bundles import BundleError
from semcom_core.cli.main import main
from semcom_core.runs.config import ConfigError, load_config
from semcom_core.data.common import DatasetError
from semcom_core.data.multimodal import MultiModalDataset, fill_depth_holes
from semcom_core.data.registry import load_multimodal_dataset
from semcom_core.methods.multimodal import MultiModalSystem
from semcom_core.bundles.multimodal import check_bundle_data, load_multimodal_bundle
from semcom_core.runs.multimodal import evaluate_system, finetune_run, labelled_indices, load_data, pretrain_run

REPO = Path(__file__).resolve().parents[2]
TINY = {"dataset": {"size": 16, "train_size": 128, "test_size": 64},
        "model": {"k": 8, "width": 4, "server_hidden": 16},
        "augment": {"crop": 16},
        "pretrain": {"epochs": 1, "batch_size": 32, "k_shared": 6},
        "finetune": {"rounds": 4, "batch_size": 16, "eval_every": 2},
        "trainer": {"progress_bar": False}}


def tiny(*layers):
    return load_config(None, TINY, *layers, family="multimodal")


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("mm")
    cfg = tiny()
    pretrain_run(cfg, root / "pre")
    finetune_run(cfg, root / "ft", pretrained=root / "pre")
    return cfg, root


def test_pretraining_records_the_weight_norm_and_keeps_it_bounded(tiny_runs):
    _, root = tiny_runs
    norms = json.loads((root / "pre" / "run.json").read_text())["weight_norm"]
    assert norms["start"] > 0
    # Adam at the default rate: the BatchNorm-ed weights do not blow up (SGD at 0.05 grew them 100x and more)
    assert norms["end"] < 2 * norms["start"], norms


def test_each_device_has_its_own_channel_and_snr():
    torch.manual_seed(0)
    system = MultiModalSystem(["rgb", "depth"], k=64, num_classes=3, width=4)
    z = [torch.randn(400, 64), torch.randn(400, 64)]
    rx = system.transmit(z, [30.0, 0.0])
    for zi, ri, snr in zip(z, rx, (30.0, 0.0)):
        sent = zi * (32 / (zi ** 2).sum(1, keepdim=True)).sqrt()   # unit power per complex symbol
        noise = ((ri - sent) ** 2).sum(1).mean() / 32              # per complex symbol
        assert float(noise) == pytest.approx(10 ** (-snr / 10), rel=0.1)
    assert system.symbols_per_sample == 64
    with pytest.raises(ValueError, match="3 SNRs for 2 devices"):
        system.transmit(z, [1.0, 2.0, 3.0])


def test_bad_inputs_fail_clearly():
    system = MultiModalSystem(["rgb", "depth"], k=8, num_classes=3, width=4)
    with pytest.raises(ValueError, match="2 devices .* but got 1 modalities"):
        system([torch.rand(2, 3, 16, 16)], 10.0)
    with pytest.raises(ValueError, match=r"expects \[B, 1, H, W\]"):
        system([torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)], 10.0)
    bad = torch.rand(2, 1, 16, 16)
    bad[0, 0, 3, 3] = float("nan")
    with pytest.raises(FloatingPointError, match="non-finite"):
        system([torch.rand(2, 3, 16, 16), bad], 10.0)
    with pytest.raises(ValueError, match="even"):
        MultiModalSystem(["rgb"], k=7, num_classes=3)
    with pytest.raises(ValueError, match="unknown modality"):
        MultiModalSystem(["thermal"], k=8, num_classes=3)


def test_depth_holes_are_filled_or_refused():
    depth = torch.full((2, 1, 12, 12), 3.0)
    depth[0, 0, 2:6, 2:6] = float("nan")
    depth[1, 0, 0, :] = 0.0
    depth[1, 0, 5, 5] = float("inf")
    filled, holes = fill_depth_holes(depth)
    assert holes == 16 + 12 + 1
    assert torch.isfinite(filled).all() and torch.allclose(filled, torch.full_like(filled, 3.0))
    with pytest.raises(DatasetError, match="no valid pixel"):
        fill_depth_holes(torch.zeros(1, 1, 4, 4))
    with pytest.raises(DatasetError, match="NaN"):
        MultiModalDataset({"depth": depth}, [0, 1], "x", ["a", "b"])


def test_missing_nyu_file_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="nyu_depth_v2_labeled.mat"):
        load_multimodal_dataset("nyu-depth-v2", "train", root=tmp_path)
    cfg = load_config(REPO / "configs/multimodal/nyud2/base.yaml", {"dataset": {"root": str(tmp_path)}}, family="multimodal")
    with pytest.raises(DatasetError, match="download"):
        load_data(cfg, "train")


def test_config_errors():
    with pytest.raises(ConfigError, match="k_shared"):
        tiny({"pretrain": {"k_shared": 9}})
    with pytest.raises(ConfigError, match="multiple of eval_every"):
        tiny({"finetune": {"rounds": 5}})
    with pytest.raises(ConfigError, match="unknown config key"):
        tiny({"pretrain": {"lamda": 1}})
    with pytest.raises(ConfigError, match="3 SNRs for 2 devices"):
        tiny({"finetune": {"snr_db": [1, 2, 3]}})


def test_labelled_subset_is_stratified():
    labels = torch.arange(10).repeat_interleave(20)
    keep = labelled_indices(labels, 0.5, seed=1)
    assert torch.bincount(labels[keep]).tolist() == [10] * 10
    assert not torch.equal(keep, labelled_indices(labels, 0.5, seed=2))


def test_round_counter_matches_the_steps_taken(tiny_runs):
    cfg, root = tiny_runs
    card = json.loads((root / "ft" / "card.json").read_text())
    history = json.loads((root / "ft" / "history.json").read_text())
    assert card["rounds"] == 4 and card["method"] == "proposed"
    # features up and gradients down: 2 directions x 16 samples x 2 devices x K/2 = 4 symbols
    assert card["symbols"] == 4 * 2 * 16 * 2 * 4
    assert [h["round"] for h in history] == [0, 2, 4]
    assert [h["symbols"] for h in history] == [0, 512, 1024]
    assert all(0 <= h["accuracy"] <= 1 for h in history)
    pre = json.loads((root / "pre" / "run.json").read_text())
    assert pre["steps"] == 128 // 32 and all(map(lambda v: v == v, pre["losses"]))


def test_bundle_round_trip_and_mismatches(tiny_runs, tmp_path, capsys):
    cfg, root = tiny_runs
    system, card = load_multimodal_bundle(root / "ft")
    test = load_data(cfg, "test")
    check_bundle_data(card, test)
    acc = evaluate_system(system, test, 10.0, card["augment"], seed=1)
    assert acc == pytest.approx(evaluate_system(system, test, 10.0, card["augment"], seed=1))
    with pytest.raises(BundleError, match=r"2 devices \(rgb, depth\) but the data has 1 modalities \(depth\)"):
        check_bundle_data(card, test.select(["depth"]))
    with pytest.raises(SystemExit) as stop:
        main(["multimodal", "eval", "--bundle", str(root / "ft"), "--modalities", "rgb", "--snr", "10"])
    assert stop.value.code == 2 and "but the data has 1 modalities" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "card.json").write_text((root / "ft" / "card.json").read_text())
    (broken / "weights.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(BundleError, match="weights.safetensors does not match the SHA-256"):
        load_multimodal_bundle(broken)


def test_cli_eval(tiny_runs, capsys):
    _, root = tiny_runs
    main(["multimodal", "eval", "--bundle", str(root / "ft"), "--snr", "0", "20"])
    out = capsys.readouterr().out
    assert "at 0 dB" in out and "at 20 dB" in out


def _cli(args, tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    semcom = Path(sys.executable).with_name("semcom")
    result = subprocess.run([str(semcom), *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


DDP_SET = ["--set", "model.norm=group", "--set", "model.feature_norm=none", "--set", "pretrain.augment=false",
           "--set", "pretrain.shuffle=false", "--set", "pretrain.projector=[]",
           "--set", "pretrain.epochs=1", "--set", "pretrain.batch_size=32", "--set", "pretrain.optimizer=sgd",
           "--set", "pretrain.lr=0.01", "--set", "trainer.strategy=ddp"]


@pytest.mark.slow
def test_two_process_ddp_gives_the_one_process_loss(tmp_path):
    """The same global batch in one process and split over two (gloo on CPU): equal losses, step after step,
    because the pre-training losses gather every process's features (and gradients follow)."""
    config = tmp_path / "tiny.yaml"
    import yaml

    config.write_text(yaml.safe_dump(TINY))
    losses = {}
    for devices in (1, 2):
        out = tmp_path / f"pre{devices}"
        _cli(["multimodal", "pretrain", "--config", str(config), "--out", str(out), *DDP_SET,
              "--set", f"trainer.devices={devices}"], tmp_path)
        info = json.loads((out / "run.json").read_text())
        assert info["processes"] == devices
        losses[devices] = info["losses"]
    assert len(losses[1]) == len(losses[2]) == 4
    one, two = torch.tensor(losses[1]), torch.tensor(losses[2])
    # the first step sees the same weights: equal up to float32 summation order; later steps equal up to the
    # round-off that the updates carry forward
    assert abs(one[0] - two[0]) <= 1e-5 * one[0], losses
    assert torch.allclose(one, two, rtol=1e-3), losses
    # the losses move (the steps did something) and fine-tuning also runs in two processes, counting
    # global rounds: 4 rounds of a 16-sample global batch
    assert losses[1][0] != losses[1][-1]
    out = tmp_path / "ft2"
    _cli(["multimodal", "finetune", "--config", str(config), "--out", str(out), "--pretrained",
          str(tmp_path / "pre2"), "--set", "model.norm=group", "--set", "model.feature_norm=none",
          "--set", "trainer.strategy=ddp",
          "--set", "trainer.devices=2"], tmp_path)
    card = json.loads((out / "card.json").read_text())
    assert card["rounds"] == 4 and card["symbols"] == 4 * 2 * 16 * 2 * 4


def test_experiment_command_writes_records_table_and_figures(tmp_path, capsys):
    import yaml

    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump(TINY))
    spec = tmp_path / "experiment.yaml"
    spec.write_text(yaml.safe_dump({"base": str(base), "pretrain": ["proposed"], "snrs": [10],
                                    "label_fractions": [1.0, 0.5], "single_modality": ["depth"],
                                    "targets": [0.05, 0.99, 1.0], "seeds": [0, 1]}))
    runs, out = tmp_path / "runs", tmp_path / "out"
    main(["experiment", "multimodal", "--spec", str(spec), "--runs", str(runs), "--out", str(out)])
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    # per seed: 2 label fractions x (proposed, supervised) + depth alone = 5 runs of 3 points (rounds 0, 2, 4)
    assert len(records) == 2 * 5 * 3
    assert {r["seed"] for r in records} == {0, 1}
    assert {(r["method"], r["modalities"], r["label_fraction"]) for r in records} == {
        ("proposed", "rgb+depth", 1.0), ("supervised", "rgb+depth", 1.0), ("proposed", "rgb+depth", 0.5),
        ("supervised", "rgb+depth", 0.5), ("supervised", "depth", 1.0)}
    # the seeds really differ (data, initialisation, batches)
    by_seed = {s: [r["accuracy"] for r in records if r["seed"] == s] for s in (0, 1)}
    assert by_seed[0] != by_seed[1]
    probes = [json.loads(line) for line in (out / "probe.jsonl").read_text().splitlines()]
    assert {(p["seed"], p["modalities"]) for p in probes} == {(s, m) for s in (0, 1) for m in ("rgb", "depth", "rgb+depth")}
    assert all(0 <= p["pretrained_accuracy"] <= 1 and 0 <= p["random_accuracy"] <= 1 for p in probes)
    table = (out / "results.md").read_text()
    assert "| 10 | Proposed |" in table and "| 10 | depth alone |" in table and "rounds to 5%" in table
    assert " ± " in table and "| 2 |" in table                     # mean ± std over 2 seeds
    assert "## The paper's claims, checked" in table and "Fig. 5" in table
    assert "Linear probe" in table
    for name in ("accuracy_vs_rounds_labels100", "accuracy_vs_rounds_labels50", "pretrain_loss"):
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    main(["experiment", "multimodal", "--spec", str(spec), "--runs", str(runs), "--out", str(out), "--no-train"])
    assert "2 pre-training and 10 fine-tuning runs reused; 0 and 0 to train" in capsys.readouterr().out
    # resumable run by run: a lost fine-tuning run is the only one trained again
    import shutil

    shutil.rmtree(runs / "seed1" / "ft-supervised-snr10-labels50")
    main(["experiment", "multimodal", "--spec", str(spec), "--runs", str(runs), "--out", str(out)])
    assert "2 pre-training and 9 fine-tuning runs reused; 0 and 1 to train" in capsys.readouterr().out
