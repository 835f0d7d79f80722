"""The one run system: a config loader with a schema per family, one run folder, one finished-run check,
one bundle format (with the earlier formats still read, and upgraded by a command)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from semcom_core.bundles import BUNDLE_FORMAT, BundleError, load_bundle, make_untrained_bundle, read_card
from semcom_core.runs.config import ConfigError, load_config
from semcom_core.runs.folder import finished_run, read_run, write_run

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("family, path", [("image", "configs/deepjscc_fmnist_1-12.yaml"),
                                          ("multimodal", "configs/multimodal/rgbd/base.yaml"),
                                          ("mfmsc", "configs/mfmsc/embedded/base.yaml")])
def test_one_loader_reads_every_family_and_names_a_wrong_key(family, path):
    cfg = load_config(REPO / path, family=family)
    assert isinstance(cfg, dict) and "seed" in cfg
    with pytest.raises(ConfigError, match="unknown config key 'no_such_key'"):
        load_config(REPO / path, {"no_such_key": 1}, family=family)
    with pytest.raises(ConfigError, match="unknown family"):
        load_config(REPO / path, family="audio")


def test_each_family_checks_its_values_before_anything_runs():
    with pytest.raises(ConfigError, match="ratio"):
        load_config(None, {"method": "deepjscc", "ratio": "2/1"}, family="image")
    with pytest.raises(ConfigError, match="model.k must be even"):
        load_config(None, {"model": {"k": 63}}, family="multimodal")
    with pytest.raises(ConfigError, match="tasks.0 = 'juggling'"):
        load_config(None, {"tasks": ["juggling"]}, family="mfmsc")


def test_finished_run_check(tmp_path):
    cfg = load_config(None, family="multimodal")
    assert not finished_run(tmp_path / "run", cfg)                        # nothing there yet
    write_run(tmp_path / "run", "multimodal", "proposed", cfg, stage="pretrain", seconds=1.0)
    assert read_run(tmp_path / "run")["format"] == "semcom-run/1"
    assert finished_run(tmp_path / "run", cfg, stage="pretrain")
    assert finished_run(tmp_path / "run", {**cfg, "trainer": {**cfg["trainer"], "devices": 4}}, stage="pretrain")
    with pytest.raises(ConfigError, match=r"differs in trainer\.precision"):          # decides what it trains
        finished_run(tmp_path / "run", {**cfg, "trainer": {**cfg["trainer"], "precision": "bf16-mixed"}},
                     stage="pretrain")
    with pytest.raises(ConfigError, match="differs in seed"):
        finished_run(tmp_path / "run", {**cfg, "seed": 1}, stage="pretrain")
    with pytest.raises(ConfigError, match="stage"):
        finished_run(tmp_path / "run", cfg, stage="finetune")


def _legacy_image_bundle(tmp_path) -> Path:
    """A bundle as this project wrote them before the current format (card format semcom-bundle/1)."""
    path = make_untrained_bundle(tmp_path / "legacy", q=8, method="a-mijscc")
    card = json.loads((path / "card.json").read_text())
    for key in ("family", "parts", "files"):
        card.pop(key)
    card["format"] = "semcom-bundle/1"
    (path / "card.json").write_text(json.dumps(card))
    return path


def test_bundles_of_the_earlier_format_load_and_upgrade(tmp_path, capsys):
    from semcom_core.cli.main import main

    path = _legacy_image_bundle(tmp_path)
    before = load_bundle(path)
    assert before.adaptive and before.card["family"] == "image"
    main(["bundle", "upgrade", str(path)])
    assert "rewritten in the current format" in capsys.readouterr().out
    card = json.loads((path / "card.json").read_text())
    assert card["format"] == BUNDLE_FORMAT and card["family"] == "image" and "legacy_format" not in card
    assert set(card["parts"]) == {"encoder", "decoder", "classifier", "adaptive_mask", "latent_classifier"}
    after = load_bundle(path)
    x = torch.rand(3, 1, 28, 28)
    assert [int(s.end) for _, s in after.transmit(x, 0.1)] == [int(s.end) for _, s in before.transmit(x, 0.1)]
    main(["bundle", "upgrade", str(path)])
    assert "already in the current format" in capsys.readouterr().out


def test_legacy_whole_system_bundles_get_their_part_prefix(tmp_path):
    """Multi-modal and MFMSC bundles of the earlier formats stored the system's tensors unprefixed."""
    from semcom_core.bundles.format import read_bundle, upgrade_bundle

    folder = tmp_path / "mm"
    folder.mkdir()
    save_file({"encoders.rgb.weight": torch.ones(2, 2)}, str(folder / "weights.safetensors"))
    (folder / "card.json").write_text(json.dumps({"format": "semcom-multimodal/1", "method": "proposed"}))
    card, tensors, _ = read_bundle(folder, "multimodal")
    assert card["parts"] == ["system"] and set(tensors["system"]) == {"encoders.rgb.weight"}
    with pytest.raises(BundleError, match="not one of the image family"):
        read_card(folder, "image")
    assert upgrade_bundle(folder)
    assert set(load_file(str(folder / "weights.safetensors"))) == {"system.encoders.rgb.weight"}


def test_a_bundle_is_written_whole_or_not_at_all(tmp_path):
    from semcom_core.bundles.format import write_bundle

    class Broken(torch.nn.Module):
        def state_dict(self, *args, **kwargs):
            raise RuntimeError("disk full")

    path = make_untrained_bundle(tmp_path / "b")
    with pytest.raises(RuntimeError, match="disk full"):
        write_bundle(path, "image", {"method": "x"}, {"encoder": Broken()})
    assert load_bundle(path).card["method"] == "deepjscc"          # the old bundle is still there, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]        # and no half-written folder beside it


def test_export_of_a_deployable_family_copies_its_bundle(tmp_path):
    from semcom_core.runs.export import export

    run = tmp_path / "run"
    shutil.copytree(make_untrained_bundle(tmp_path / "b"), run)
    card = json.loads((run / "card.json").read_text())
    card.update(family="mfmsc", files=[])
    (run / "card.json").write_text(json.dumps(card))
    write_run(run, "mfmsc", "mfmsc", {"seed": 0})
    out = export(run, tmp_path / "out", command="test")
    assert read_card(out, "mfmsc")["method"] == "deepjscc"
    assert (out / "weights.safetensors").read_bytes() == (run / "weights.safetensors").read_bytes()


@pytest.mark.parametrize("family,path,runner", [
    ("image", "configs/semcc/fmnist/deepjscc.yaml", "semcom_core.runs.image:train_run"),
    ("multimodal", "configs/multimodal/rgbd/base.yaml", "semcom_core.runs.multimodal:pretrain_run"),
    ("mfmsc", "configs/mfmsc/embedded/base.yaml", "semcom_core.runs.mfmsc:train_run"),
])
def test_a_torchrun_launch_the_config_does_not_ask_for_is_refused(family, path, runner, tmp_path, monkeypatch):
    import importlib

    from semcom_core.runs.config import ConfigError, load_config

    module, name = runner.split(":")
    train = getattr(importlib.import_module(module), name)
    cfg = load_config(REPO / path, family=family)
    monkeypatch.setenv("WORLD_SIZE", "2")               # what torchrun --nproc-per-node 2 sets
    with pytest.raises(ConfigError, match="WORLD_SIZE=2.*product is 2"):
        train(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()             # refused before anything was written
    from semcom_core.runs.folder import check_launch

    check_launch({**cfg["trainer"], "devices": 2})      # asked for: the processes join one training
    monkeypatch.setenv("WORLD_SIZE", "1")
    check_launch(cfg["trainer"])                         # one process: nothing to check


def test_compiled_training_without_a_cpp_compiler_is_refused_before_anything_trains(tmp_path, monkeypatch):
    from semcom_core.runs.config import ConfigError, load_config
    from semcom_core.runs.image import check_compile, train_run

    cfg = load_config(REPO / "configs/semcc/fmnist/deepjscc.yaml", {"trainer": {"compile": True, "accelerator": "cpu"}})
    monkeypatch.setenv("CXX", "no-such-compiler")
    with pytest.raises(ConfigError, match="trainer.compile needs a C\\+\\+ compiler.*'no-such-compiler' not found"):
        train_run(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    check_compile({**cfg["trainer"], "compile": False})     # eager training needs no compiler
    monkeypatch.setenv("CXX", "sh")                          # a program that is on the PATH passes
    check_compile(cfg["trainer"])
