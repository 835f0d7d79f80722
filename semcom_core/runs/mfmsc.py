"""The MFMSC family's recipe: training (Algorithm 1) and evaluation (Algorithm 2) of MFMSC and its comparisons.

A config (:func:`~semcom_core.runs.config.load_config`, family ``mfmsc``) names the tasks, the network sizes,
the architecture, the training recipe and the evaluation grid. Training keeps one Adam optimiser per task over
exactly the parameters that task uses; each step draws a task at random among those with data left in the
epoch and takes its next batch. The run folder (:mod:`.folder`) is also a bundle
(:mod:`semcom_core.bundles.mfmsc`), beside ``history.json`` (loss per step and task).
"""

from __future__ import annotations

import json
import random
import time
import warnings
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset

from ..bundles.mfmsc import write_mfmsc_bundle
from ..channels import make_channel
from ..data.mfmsc.tasks import TaskData, build_tasks, task_head_specs
from ..losses.multitask import task_loss
from ..methods.mfmsc import MFMSCSystem
from ..metrics.tasks import TaskScore
from .folder import check_launch, logger, say, write_run

warnings.filterwarnings("ignore", message=r".*does not have many workers.*")


class TaskSchedule(IterableDataset):
    """Algorithm 1's stream of (task, batch): each step a task drawn uniformly among those with data left.

    Every task's training set is shuffled into batches once per epoch; a task leaves the draw when its
    batches are used up, and the epoch ends when every task's are.
    """

    def __init__(self, tasks: dict[str, TaskData], batch_size: int, seed: int, rank: int = 0, world: int = 1):
        self.tasks, self.batch_size, self.seed, self.epoch = tasks, batch_size, seed, 0
        self.rank, self.world = int(rank), int(world)

    def shard(self, indices: np.ndarray) -> np.ndarray:
        """This process's part of one global batch. Under DDP every process draws the same plan (the same
        task at every step, as the per-task optimisers need) and takes every ``world``-th instance of each
        batch; a batch smaller than the number of processes is shared round-robin, so none is empty."""
        if self.world == 1:
            return indices
        mine = indices[self.rank::self.world]
        return mine if len(mine) else indices[self.rank % len(indices):][:1]

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
            yield name, self.tasks[name].batch(self.shard(indices))

    def __len__(self) -> int:
        """Steps per epoch (the same in every process)."""
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
    check_launch(cfg["trainer"])
    out_dir = Path(out_dir)
    started = time.time()
    set_seed(int(cfg["seed"]))
    train, test, tokenizer = data if data is not None else build_tasks(cfg)
    train = {name: train[name] for name in cfg["tasks"]}
    geometry = dict(cfg["data"], vocab_size=tokenizer.vocab_size)
    system = build_system(cfg, train, geometry)
    module = MultiTaskModule(system, train, cfg)
    t = cfg["trainer"]
    trainer = L.Trainer(accelerator=t["accelerator"], devices=t["devices"], num_nodes=t["num_nodes"],
                        strategy=_strategy(t["strategy"]), precision=t["precision"],
                        max_epochs=int(cfg["train"]["epochs"]), default_root_dir=str(out_dir),
                        logger=logger(out_dir, "train"),
                        enable_checkpointing=False, enable_model_summary=False,
                        enable_progress_bar=bool(t["progress_bar"]), log_every_n_steps=20)
    processes = trainer.world_size
    schedule = TaskSchedule(train, int(cfg["train"]["batch_size"]), int(cfg["seed"]), trainer.global_rank,
                            processes)
    say(f"mfmsc train: {cfg['arch']} on {', '.join(cfg['tasks'])}, {len(schedule)} steps per epoch, "
        f"{cfg['train']['epochs']} epochs, {processes} process(es)")
    trainer.fit(module, DataLoader(schedule, batch_size=None))
    agree = ranks_agree(trainer, system)
    if trainer.is_global_zero:
        seconds = round(time.time() - started, 1)
        facts = {"seconds": seconds, "steps": len(module.history), "processes": processes}
        write_mfmsc_bundle(out_dir, system, cfg, tokenizer, geometry, facts)
        (out_dir / "history.json").write_text(json.dumps(module.history) + "\n")
        write_run(out_dir, "mfmsc", cfg["arch"], cfg, ranks_agree=agree, **facts)
    say(f"mfmsc train: done in {time.time() - started:.0f} s; {out_dir}")
    return out_dir


def _strategy(name: str):
    """Lightning's strategy for ``trainer.strategy``. Plain DDP becomes DDP that tolerates parameters without
    a gradient: each step trains one task, which leaves the other tasks' encoders and heads unused."""
    return "ddp_find_unused_parameters_true" if name == "ddp" else name


def ranks_agree(trainer: L.Trainer, system: MFMSCSystem) -> bool | None:
    """Under DDP: whether every process ended with the same weights (the gradients were averaged at every
    step); None in a single process."""
    if trainer.world_size == 1:
        return None
    with torch.no_grad():
        checksum = torch.stack([p.double().sum() for p in system.parameters()]).sum().reshape(1)
    gathered = trainer.strategy.all_gather(checksum).reshape(-1)
    return bool(torch.allclose(gathered, gathered[0].expand_as(gathered), rtol=1e-9, atol=0.0))


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
