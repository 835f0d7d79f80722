"""The one run-folder layout of every family, and the one check that a run is finished.

A run folder holds ``run.json`` (``format``, ``family``, ``method``, the resolved ``config``, ``metrics``,
``seconds``, the ``command``, the code version and the family's own facts), the trained weights as
safetensors files, ``logs/`` (CSV logs per training stage) and, for families whose run is deployable as it
is (multi-modal fine-tuning, MFMSC), the bundle files (``card.json``, ``weights.safetensors``).
``run.json`` is written last: a folder without it is an unfinished run.
"""

from __future__ import annotations

import datetime
import json
import os
import shlex
import sys
from pathlib import Path

import torch
from lightning.pytorch.loggers import CSVLogger
from safetensors.torch import save_file

from .. import __version__
from .layering import ConfigError

__all__ = ["RUN_FILE", "RUN_FORMAT", "TRAINING_SETTINGS", "check_launch", "config_differences", "is_global_zero",
           "say", "command_line", "finished_run", "logger", "read_run", "state_to_file", "write_run"]

RUN_FORMAT = "semcom-run/1"
RUN_FILE = "run.json"
#: The trainer settings that decide what a run trains: when its stages stop, on what, with what batches and
#: arithmetic. The others (accelerator, devices, compile, workers, progress bar) only decide where and how.
TRAINING_SETTINGS = ("max_epochs", "patience", "min_delta", "monitor", "batch_size", "limit_train_batches",
                     "precision")


def is_global_zero() -> bool:
    """True in the process that writes the run folder: the only one, or rank 0 of a distributed training
    (the rank Lightning and torchrun set)."""
    from lightning.pytorch.utilities import rank_zero_only

    return int(getattr(rank_zero_only, "rank", 0) or 0) == 0


def say(message: str) -> None:
    """Print a progress line, once per training (rank 0 only)."""
    if is_global_zero():
        print(message, flush=True)


def check_launch(trainer: dict) -> None:
    """Refuse a multi-process launch (``torchrun`` sets ``WORLD_SIZE``) that the config's ``trainer.devices``
    x ``num_nodes`` does not ask for: Lightning would not join the processes, each would train alone into the
    same run folder."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return
    devices, nodes = trainer.get("devices"), int(trainer.get("num_nodes", 1) or 1)
    count = len(devices) if isinstance(devices, list) else devices if isinstance(devices, int) else None
    if count is None or count * nodes != world:
        asked = "auto (one process here)" if count is None else str(count * nodes)
        raise ConfigError(f"launched as {world} processes (WORLD_SIZE={world}, e.g. by torchrun), but trainer.devices="
                          f"{devices!r} x num_nodes={nodes} asks for {asked}: each process would train alone into the "
                          f"same folder. Set trainer.devices (and num_nodes) so that their product is {world}.")


def command_line() -> str:
    """The command that is running, as a user would type it (``semcom ...``)."""
    return shlex.join(["semcom", *sys.argv[1:]])


def logger(folder: str | Path, name: str) -> CSVLogger:
    """Lightning's CSV logger writing to ``<folder>/logs/<name>/``."""
    return CSVLogger(str(Path(folder) / "logs"), name=name)


def state_to_file(module: torch.nn.Module, path: str | Path) -> None:
    """A module's state dict as a safetensors file (written by rank 0 only; the ranks hold the same weights)."""
    if not is_global_zero():
        return
    save_file({k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}, str(path))


def write_run(folder: str | Path, family: str, method: str, config: dict, command: str | None = None,
              **facts) -> dict:
    """Write ``run.json`` (last, once the weights are in the folder); returns what it holds."""
    if not is_global_zero():
        return {}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    run = {"format": RUN_FORMAT, "family": family, "method": method, "config": config,
           "command": command or command_line(), "code_version": __version__,
           "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), **facts}
    (folder / RUN_FILE).write_text(json.dumps(run, indent=1, default=str) + "\n")
    return run


def read_run(folder: str | Path) -> dict:
    """The ``run.json`` of a finished run; FileNotFoundError naming the folder otherwise."""
    path = Path(folder) / RUN_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{folder} is not a finished training run (no {RUN_FILE})") from err
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path} is not valid JSON ({err})") from err


def config_differences(saved: dict, cfg: dict, ignore=()) -> list[str]:
    """The keys in which two run configs differ, top-level keys in ``ignore`` aside. Of ``trainer`` only the
    settings that decide what a run trains count (``trainer.monitor``, ...); where and how it ran do not."""
    skip = {*ignore, "trainer"}
    differ = sorted(k for k in set(saved) | set(cfg) if k not in skip and saved.get(k) != cfg.get(k))
    if "trainer" not in ignore:
        had, now = saved.get("trainer") or {}, cfg.get("trainer") or {}
        differ += [f"trainer.{k}" for k in TRAINING_SETTINGS if had.get(k) != now.get(k)]
    return differ


def finished_run(folder: str | Path, cfg: dict, ignore=(), stage: str | None = None) -> bool:
    """True when ``folder`` holds a finished run of ``cfg`` (and of ``stage``, for families with several).

    Top-level keys in ``ignore`` and the trainer's device and display settings may differ; any other
    difference raises ConfigError, so a runs folder never silently mixes configs.
    """
    if not (Path(folder) / RUN_FILE).is_file():
        return False
    run = read_run(folder)
    differ = config_differences(run["config"], cfg, ignore)
    if run.get("stage") != stage:
        differ.append(f"stage ({run.get('stage')} instead of {stage})")
    if differ:
        raise ConfigError(f"{folder} holds a {run.get('method')!r} run whose config differs in {', '.join(differ)}; "
                          "move it away or choose another --runs folder")
    return True
