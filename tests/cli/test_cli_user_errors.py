"""A user's mistake is one line on stderr and exit code 2, no traceback (``--debug`` shows one); config
mistakes are found before torch is even imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

from semcom_core.runs.config import IMAGE, MFMSC, MULTIMODAL, load_config
from semcom_core.runs.layering import ConfigError
from semcom_core.runs.schema import CHANNELS, METHODS, MFMSC_ARCHES, MFMSC_TASKS, PRETRAIN_METHODS

_PROBE = """
import sys
from semcom_core.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as err:
    print("exit", err.code, "torch" in sys.modules)
"""


def _semcom(*args, cwd=None):
    return subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("text, message", [
    ("method: deepjscc\ntrainer: {max_epochs: two}\n", "trainer.max_epochs = 'two': should be a valid integer"),
    ("method: deepjscc\nratoi: 1/12\n", "unknown config key 'ratoi'; known: method, seed"),
    ("ratio: 1/12\n", "method is missing (required)"),
    ("method: deepjscc\ntrainer: {batch_size: -4}\n", "trainer.batch_size = -4: should be greater than or equal to 1"),
    ("method: deepjscc\nchannel: {name: fading}\n", "channel.name = 'fading': should be 'awgn', 'rayleigh'"),
    ("method: deepjscc\nloss: {alpha: 3}\n", "loss.alpha = 3: should be less than or equal to 1 or 'ratio'"),
])
def test_a_bad_config_is_one_line_naming_file_field_and_value_before_torch_loads(tmp_path, text, message):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    result = _semcom("train", "--config", str(config), "--out", str(tmp_path / "run"))
    assert result.stdout.strip() == "exit 2 False", result
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"semcom train: error: config {config}" in result.stderr and message in result.stderr
    assert not (tmp_path / "run").exists()


def test_debug_shows_the_traceback(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("ratio: 1/12\n")
    result = subprocess.run([sys.executable, "-m", "semcom_core.cli.main", "--debug", "train", "--config",
                             str(config), "--out", str(tmp_path / "run")], capture_output=True, text=True)
    assert result.returncode != 0 and "Traceback" in result.stderr and "method is missing" in result.stderr


def test_paths_and_values_are_checked_before_any_work(tmp_path, untrained_bundle_path):
    folder = tmp_path / "records"
    folder.mkdir()
    result = _semcom("eval", "--bundle", str(untrained_bundle_path), "--snr", "10", "--out", str(folder))
    assert result.stdout.strip().startswith("exit 2") and "is a folder; give a file name" in result.stderr
    config = tmp_path / "ok.yaml"
    config.write_text("method: deepjscc\n")
    (tmp_path / "afile").write_text("")
    result = _semcom("train", "--config", str(config), "--out", str(tmp_path / "afile"))
    assert result.stdout.strip() == "exit 2 False" and "is a file, not a folder" in result.stderr
    result = _semcom("eval", "--samples", "0")
    assert result.stdout.strip().startswith("exit 2") and "--samples: 0 must be at least 1" in result.stderr
    assert result.stderr.count("\n") == 1
    result = _semcom("bench", "ota", "--burst", "-1")
    assert result.stdout.strip().startswith("exit 2") and "--burst: -1 must be at least 1" in result.stderr


def test_an_empty_data_file_is_one_line_naming_it(tmp_path, untrained_bundle_path):
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "train-images-idx3-ubyte",
                 "train-labels-idx1-ubyte"):
        (tmp_path / name).write_bytes(b"")
    result = _semcom("eval", "--bundle", str(untrained_bundle_path), "--snr", "10", "--samples", "8",
                     "--data-root", str(tmp_path))
    assert result.stdout.strip().startswith("exit 2"), result
    assert "t10k-images-idx3-ubyte" in result.stderr and result.stderr.count("\n") == 1


def test_the_schema_names_the_registries_names():
    from semcom_core.channels import CHANNEL_NAMES
    from semcom_core.data.mfmsc.tasks import TASKS
    from semcom_core.methods import METHODS as REGISTERED
    from semcom_core.methods.mfmsc import ARCHES
    from semcom_core.methods.multimodal import PRETRAIN_METHODS as PRETRAIN

    assert tuple(REGISTERED) == METHODS and tuple(CHANNEL_NAMES) == CHANNELS and tuple(TASKS) == MFMSC_TASKS
    assert tuple(ARCHES) == MFMSC_ARCHES and tuple(PRETRAIN) == PRETRAIN_METHODS


@pytest.mark.parametrize("family, layer, message", [
    ("multimodal", {"pretrain": {"method": "byol"}}, "pretrain.method = 'byol'"),
    ("multimodal", {"finetune": {"label_fraction": 0}}, "finetune.label_fraction = 0"),
    ("multimodal", {"modalities": ["rgb", "thermal"]}, "modalities.1 = 'thermal'"),
    ("mfmsc", {"tasks": ["image_cls", "lidar"]}, "tasks.1 = 'lidar'"),
    ("mfmsc", {"train": {"lr_per_task": {"lidar": 1e-3}}}, "train.lr_per_task.lidar = 'lidar'"),
    ("mfmsc", {"eval": {"batch_size": 0}}, "eval.batch_size = 0"),
])
def test_every_family_has_a_schema(family, layer, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        load_config(None, layer, family=family)


def test_the_shipped_defaults_pass_their_schema():
    load_config(None, {"method": "semcc"})
    load_config(None, family="multimodal")
    load_config(None, family="mfmsc")
    assert set(IMAGE) > {"method"} and MULTIMODAL and MFMSC
