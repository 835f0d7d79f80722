"""Training (Algorithm 1) and evaluation (Algorithm 2) of MFMSC and its comparisons; run folders as bundles.

A config (YAML, unknown keys rejected) names the tasks, the network sizes, the architecture, the training
recipe and the evaluation grid. Training keeps one Adam optimiser per task over exactly the parameters that
task uses; each step draws a task at random among those with data left in the epoch and takes its next
batch. A run folder is a bundle: ``weights.safetensors``, ``tokenizer.model`` (sentencepiece) and
``card.json`` (config, tasks, sizes, the command), beside ``history.json`` (loss per step and task).
"""

from __future__ import annotations

import datetime
import json
import random
import shlex
import sys
import time
import warnings
from pathlib import Path

import lightning as L
import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader, IterableDataset

from . import __version__
from .channels import make_channel
from .config import ConfigError, layered_config
from .data.mfmsc.tasks import TASKS, TaskData, build_tasks, task_head_specs
from .losses.multitask import task_loss
from .methods.mfmsc import ARCHES, MFMSCSystem
from .metrics.tasks import TaskScore

DEFAULTS = {
    "seed": 0,
    "arch": "mfmsc",
    "tasks": list(TASKS),
    # Embedded data sizes (instances per task) and input geometry; cache_dir: where spoken phrases are kept.
    "data": {"train_size": 1500, "test_size": 400, "text_max_len": 32, "vocab_size": 600,
             "speech_bins": 40, "speech_frames": 160, "video_frames": 8, "video_size": 32, "image_size": 28,
             "cache_dir": None},
    # dim: P; fusion_heads must divide it. symbols_per_token: complex channel uses per sent token.
    "model": {"dim": 96, "image_width": 32, "text_layers": 2, "speech_channels": [32, 64], "speech_layers": 2,
              "video_layers": 2, "vit_layers": 2, "encoder_heads": 4, "fusion_layers": 6, "fusion_heads": 12,
              "channel_hidden": 64, "symbols_per_token": 16, "pool_tokens": 2},
    # lr: every task's Adam learning rate unless lr_per_task names it. snr_db: training SNR, one value or a
    # [low, high] range drawn uniformly per instance.
    # warmup_steps: each task's learning rate grows linearly over its first steps.
    "train": {"epochs": 6, "batch_size": 32, "lr": 1.0e-3, "lr_per_task": {"speech_asr": 2.0e-3},
              "warmup_steps": 100, "snr_db": [0.0, 20.0], "channel": "awgn"},
    "eval": {"snr_db": [-5.0, 0.0, 5.0, 10.0, 15.0, 20.0], "channels": ["awgn"], "batch_size": 200},
    "trainer": {"accelerator": "cpu", "devices": 1, "precision": "32-true", "progress_bar": True},
}

CARD_FORMAT = "semcom-mfmsc/1"
warnings.filterwarnings("ignore", message=r".*does not have many workers.*")


def load_mfmsc_config(path: str | Path | None, *overrides: dict | None) -> dict:
    """Defaults <- the YAML file (if any) <- override layers; validated."""
    cfg = layered_config(DEFAULTS, path, *overrides)
    validate(cfg)
    return cfg


def validate(cfg: dict) -> None:
    if cfg["arch"] not in ARCHES:
        raise ConfigError(f"arch must be one of {', '.join(ARCHES)}, got {cfg['arch']!r}")
    unknown = [t for t in cfg["tasks"] if t not in TASKS]
    if unknown or not cfg["tasks"]:
        raise ConfigError(f"unknown or no tasks {unknown}; known: {', '.join(TASKS)}")
    m = cfg["model"]
    if int(m["dim"]) % int(m["fusion_heads"]) or int(m["dim"]) % int(m["encoder_heads"]):
        raise ConfigError(f"model.dim ({m['dim']}) must be divisible by fusion_heads and encoder_heads")
    snr = cfg["train"]["snr_db"]
    if isinstance(snr, list) and (len(snr) != 2 or snr[0] > snr[1]):
        raise ConfigError(f"train.snr_db must be a number or [low, high], got {snr}")
    bad = [t for t in cfg["train"]["lr_per_task"] if t not in TASKS]
    if bad:
        raise ConfigError(f"train.lr_per_task names unknown tasks {bad}")


class TaskSchedule(IterableDataset):
    """Algorithm 1's stream of (task, batch): each step a task drawn uniformly among those with data left.

    Every task's training set is shuffled into batches once per epoch; a task leaves the draw when its
    batches are used up, and the epoch ends when every task's are.
    """

    def __init__(self, tasks: dict[str, TaskData], batch_size: int, seed: int):
        self.tasks, self.batch_size, self.seed, self.epoch = tasks, batch_size, seed, 0

    def plan(self, epoch: int) -> list[tuple[str, np.ndarray]]:
        rng = np.random.default_rng([self.seed, epoch])
        queues = {}
        for name, data in self.tasks.items():
            order = rng.permutation(len(data))
            queues[name] = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        steps = []
        while queues:
            name = sorted(queues)[rng.integers(len(queues))]
            steps.append((name, queues[name].pop(0)))
            if not queues[name]:
                del queues[name]
        return steps

    def __iter__(self):
        plan = self.plan(self.epoch)
        self.epoch += 1
        for name, indices in plan:
            yield name, self.tasks[name].batch(indices)

    def __len__(self) -> int:
        return sum(-(-len(d) // self.batch_size) for d in self.tasks.values())


def draw_snr(snr_db, batch_size: int) -> torch.Tensor | float:
    if isinstance(snr_db, (list, tuple)):
        low, high = map(float, snr_db)
        return low + (high - low) * torch.rand(batch_size)
    return float(snr_db)


class MultiTaskModule(L.LightningModule):
    """Algorithm 1: a separate Adam optimiser per task, stepped only on that task's batches."""

    def __init__(self, system: MFMSCSystem, tasks: dict[str, TaskData], cfg: dict):
        super().__init__()
        self.system, self.cfg = system, cfg
        self.automatic_optimization = False
        self.names = list(system.tasks)
        self.kinds = {name: tasks[name].spec.kind for name in self.names}
        self.channel = make_channel(cfg["train"]["channel"])
        self.history: list[dict] = []
        self.task_steps: dict[str, int] = {}

    def configure_optimizers(self):
        t = self.cfg["train"]
        return [torch.optim.Adam(self.system.task_parameters(name), lr=float(t["lr_per_task"].get(name, t["lr"])))
                for name in self.names]

    def task_step(self, name: str, batch: dict, snr_db) -> tuple[torch.Tensor, torch.Tensor]:
        output, sent = self.system(name, batch, self.channel, snr_db)
        lengths = self.system.speech_output_lengths(batch["speech_len"]) if self.kinds[name] == "ctc" else None
        return task_loss(self.kinds[name], output, batch, lengths), sent.symbols

    def optimise(self, name: str, batch: dict, optimiser, backward=None) -> torch.Tensor:
        """One step of task ``name`` with its own optimiser, its learning rate warmed up linearly over the
        task's first ``train.warmup_steps`` steps (the deep post-LN fusion stack diverges without it)."""
        steps = self.task_steps[name] = self.task_steps.get(name, 0) + 1
        warmup = max(int(self.cfg["train"]["warmup_steps"]), 1)
        for group in optimiser.param_groups:
            group.setdefault("base_lr", group["lr"])
            group["lr"] = group["base_lr"] * min(1.0, steps / warmup)
        optimiser.zero_grad(set_to_none=True)
        loss, _ = self.task_step(name, batch, draw_snr(self.cfg["train"]["snr_db"], len(batch["target"])))
        if not torch.isfinite(loss):
            raise FloatingPointError(f"task {name}: the loss became {loss.item()} at its step {steps}")
        (backward or torch.Tensor.backward)(loss)
        optimiser.step()
        return loss

    def training_step(self, item, _index):
        name, batch = item
        optimisers = self.optimizers()
        optimisers = optimisers if isinstance(optimisers, list) else [optimisers]   # Lightning unwraps one
        loss = self.optimise(name, batch, optimisers[self.names.index(name)], self.manual_backward)
        self.history.append({"step": len(self.history), "task": name, "loss": float(loss.detach())})
        self.log(f"loss/{name}", loss, prog_bar=False, batch_size=1)
        return loss


def _command() -> str:
    return shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_system(cfg: dict, tasks: dict[str, TaskData], geometry: dict) -> MFMSCSystem:
    return MFMSCSystem(task_head_specs(tasks, cfg["tasks"]), cfg["arch"], cfg["model"], geometry)


def train_run(cfg: dict, out_dir: str | Path, data: tuple | None = None) -> Path:
    """Train one system on ``cfg['tasks']`` jointly (Algorithm 1) and write its bundle to ``out_dir``.

    ``data``: ``(train, test, tokenizer)`` from :func:`build_tasks` to reuse (an experiment builds it once).
    """
    out_dir = Path(out_dir)
    started = time.time()
    set_seed(int(cfg["seed"]))
    train, test, tokenizer = data if data is not None else build_tasks(cfg)
    train = {name: train[name] for name in cfg["tasks"]}
    geometry = dict(cfg["data"], vocab_size=tokenizer.vocab_size)
    system = build_system(cfg, train, geometry)
    module = MultiTaskModule(system, train, cfg)
    t = cfg["trainer"]
    trainer = L.Trainer(accelerator=t["accelerator"], devices=t["devices"], precision=t["precision"],
                        max_epochs=int(cfg["train"]["epochs"]), default_root_dir=str(out_dir),
                        logger=L.pytorch.loggers.CSVLogger(str(out_dir), name="logs"),
                        enable_checkpointing=False, enable_model_summary=False,
                        enable_progress_bar=bool(t["progress_bar"]), log_every_n_steps=20)
    schedule = TaskSchedule(train, int(cfg["train"]["batch_size"]), int(cfg["seed"]))
    print(f"mfmsc train: {cfg['arch']} on {', '.join(cfg['tasks'])}, {len(schedule)} steps per epoch, "
          f"{cfg['train']['epochs']} epochs")
    trainer.fit(module, DataLoader(schedule, batch_size=None))
    write_bundle(out_dir, system, cfg, tokenizer, module, geometry, round(time.time() - started, 1))
    print(f"mfmsc train: done in {time.time() - started:.0f} s; {out_dir}")
    return out_dir


def write_bundle(out_dir: Path, system: MFMSCSystem, cfg: dict, tokenizer, module: MultiTaskModule,
                 geometry: dict, seconds: float) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in system.state_dict().items()},
              str(out_dir / "weights.safetensors"))
    (out_dir / "tokenizer.model").write_bytes(tokenizer.model_bytes)
    heads = [{"name": s.name, "modalities": list(s.modalities), "kind": s.kind, "outputs": s.outputs}
             for s in system.tasks.values()]
    card = {"format": CARD_FORMAT, "method": cfg["arch"], "tasks": heads, "geometry": geometry,
            "config": cfg, "seconds": seconds, "steps": len(module.history), "command": _command(),
            "code_version": __version__, "created": datetime.datetime.now(datetime.timezone.utc).isoformat()}
    (out_dir / "card.json").write_text(json.dumps(card, indent=1) + "\n")
    (out_dir / "history.json").write_text(json.dumps(module.history) + "\n")


def load_mfmsc_bundle(path: str | Path):
    """(system in eval mode, card, tokenizer) from a run folder; every problem is a BundleError."""
    from .bundle import BundleError, read_card
    from .data.mfmsc.text import SubwordTokenizer
    from .methods.mfmsc import TaskHeadSpec

    path = Path(path)
    card = read_card(path, CARD_FORMAT, ("format", "method", "tasks", "geometry", "config"))
    try:
        specs = [TaskHeadSpec(h["name"], tuple(h["modalities"]), h["kind"], int(h["outputs"])) for h in card["tasks"]]
        system = MFMSCSystem(specs, card["method"], card["config"]["model"], card["geometry"])
        system.load_state_dict(load_file(str(path / "weights.safetensors")))
        tokenizer = SubwordTokenizer.from_bytes((path / "tokenizer.model").read_bytes())
    except (KeyError, TypeError, ValueError) as err:
        raise BundleError(f"{path}: card.json or tokenizer.model is incomplete or inconsistent ({err})") from err
    except (FileNotFoundError, RuntimeError, SafetensorError, OSError) as err:
        raise BundleError(f"{path}: weights.safetensors is missing, corrupt or does not fit the card "
                          f"({str(err).splitlines()[0]})") from err
    return system.eval(), card, tokenizer


@torch.no_grad()
def evaluate_task(system: MFMSCSystem, data: TaskData, channel_name: str, snr_db: float, batch_size: int = 200,
                  seed: int = 0) -> dict:
    """Algorithm 2 for one task at one SNR: its metric over the whole test set and the symbols sent."""
    torch.manual_seed(seed)
    channel = make_channel(channel_name)
    name, kind = data.spec.name, data.spec.kind
    score = TaskScore(kind, decode_text=data.decode_text, decode_ctc=data.decode_ctc)
    symbols = 0
    for start in range(0, len(data), batch_size):
        batch = data.batch(np.arange(start, min(start + batch_size, len(data))))
        output, sent = system(name, batch, channel, snr_db)
        lengths = system.speech_output_lengths(batch["speech_len"]) if kind == "ctc" else None
        score.add(output, batch, lengths)
        symbols += int(sent.symbols.sum())
    return {score.metric: score.value(), "symbols_per_instance": symbols / len(data), "samples": len(data)}
