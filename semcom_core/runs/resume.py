"""Resuming an interrupted image run where it stopped, not from epoch 0.

A run of the image family can take longer than a machine stays up. While it trains, its folder holds
``resume/``: ``progress.json`` (a fingerprint of the config and the records of the stages already done),
``stage<N>.ckpt`` (Lightning's checkpoint of stage N after its last finished epoch: weights, optimiser,
schedule, early-stopping and best-epoch state) and ``after-stage<N>.pt`` (the method's weights when stage
N ended). ``semcom train`` into the same folder with the same config picks up from there; a changed config
starts afresh. The folder is removed once ``run.json`` is written.

A resumed run continues from the saved state but draws fresh random numbers, so it is not bit-identical
to an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import torch
import yaml

from lightning.pytorch.callbacks import Checkpoint

from .folder import is_global_zero, say

RESUME_DIR = "resume"
# Settings that do not change what a run trains up to now: how it is watched and compiled, and when early
# stopping gives up (patience, and min_delta, the least change that counts as progress): a stopped stage is
# already recorded, so a run may resume with more or less of either.
_IGNORED = {"trainer": ("progress_bar", "num_workers", "compile", "patience", "min_delta")}


def fingerprint(cfg: dict) -> str:
    """A digest of everything in the config that decides what the run trains."""
    kept = {k: ({kk: vv for kk, vv in v.items() if kk not in _IGNORED[k]} if k in _IGNORED else v)
            for k, v in cfg.items()}
    return hashlib.sha256(yaml.safe_dump(kept, sort_keys=True).encode()).hexdigest()[:16]


def seconds_spent(out_dir: str | Path, cfg: dict) -> float:
    """Training time an interrupted run of ``cfg`` has saved in ``out_dir`` (0 when there is none, or when
    what is there is from another config). Reads only: nothing is discarded."""
    try:
        saved = json.loads((Path(out_dir) / RESUME_DIR / "progress.json").read_text())
        return float(saved.get("seconds", 0.0)) if saved.get("config") == fingerprint(cfg) else 0.0
    except (FileNotFoundError, ValueError, AttributeError, TypeError):
        return 0.0


class EpochCheckpoint(Checkpoint):
    """Saves the whole training state after every epoch (written whole, then renamed into place). As a
    Lightning ``Checkpoint`` it runs after the method's own epoch-end work (SemRE's soft update)."""

    def __init__(self, path: Path, progress: "RunProgress"):
        self.path, self.progress = path, progress

    def on_train_epoch_end(self, trainer, module):
        partial = self.path.with_name(self.path.name + ".partial")
        trainer.save_checkpoint(str(partial), weights_only=False)  # the whole state: optimizer, loops, callbacks
        if trainer.is_global_zero:
            os.replace(partial, self.path)
        self.progress.write()


class RunProgress:
    """What an image run has done so far, kept in ``<run>/resume/``."""

    def __init__(self, out_dir: Path, cfg: dict):
        self.dir = Path(out_dir) / RESUME_DIR
        self.key = fingerprint(cfg)
        self.stages: list[dict] = []
        self.earlier_seconds, self.attempt_started = 0.0, time.time()
        saved = self._read()
        if saved is not None and saved.get("config") == self.key:
            self.stages = saved.get("stages", [])
            self.earlier_seconds = float(saved.get("seconds", 0.0))
        elif self.dir.exists():
            say(f"train: {self.dir} is from another config; starting afresh")
            self.discard()

    def _read(self) -> dict | None:
        try:
            return json.loads((self.dir / "progress.json").read_text())
        except (FileNotFoundError, ValueError):
            return None

    @property
    def seconds(self) -> float:
        """Training time over every attempt (to the last saved epoch for the earlier ones)."""
        return self.earlier_seconds + time.time() - self.attempt_started

    def write(self) -> None:
        if not is_global_zero():
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        partial = self.dir / "progress.json.partial"
        partial.write_text(json.dumps({"config": self.key, "seconds": round(self.seconds, 1), "stages": self.stages},
                                      indent=1) + "\n")
        os.replace(partial, self.dir / "progress.json")

    @property
    def started(self) -> bool:
        """True when an earlier attempt left anything to resume from."""
        return bool(self.stages) or self.checkpoint(1) is not None

    def checkpoint(self, number: int) -> Path | None:
        """Stage ``number``'s epoch checkpoint, when an earlier attempt saved one."""
        path = self.dir / f"stage{number}.ckpt"
        if not path.is_file():
            return None
        try:
            torch.load(path, map_location="cpu", weights_only=False)
        except Exception as err:   # a damaged file: that stage starts again
            say(f"train: {path} is unreadable ({type(err).__name__}); stage {number} starts again")
            path.unlink(missing_ok=True)
            return None
        return path

    def callback(self, number: int) -> EpochCheckpoint:
        """Stage ``number``'s epoch checkpoints (the fingerprint goes to disk first, so that a checkpoint is
        never without it)."""
        self.write()
        return EpochCheckpoint(self.dir / f"stage{number}.ckpt", self)

    def restore_finished_stages(self, method: torch.nn.Module) -> int:
        """Loads the weights of the last finished stage into ``method``; returns how many stages are done."""
        done = len(self.stages)
        if done:
            state = torch.load(self.dir / f"after-stage{done}.pt", map_location="cpu", weights_only=True)
            method.load_state_dict(state)
            say(f"train: resuming after stage {done} ({', '.join(s['name'] for s in self.stages)} done)")
        return done

    def stage_done(self, number: int, record: dict, method: torch.nn.Module) -> None:
        """Keeps the stage's record and weights; its epoch checkpoint is no longer needed."""
        if not is_global_zero():
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        partial = self.dir / f"after-stage{number}.pt.partial"
        torch.save(method.state_dict(), partial)
        os.replace(partial, self.dir / f"after-stage{number}.pt")
        self.stages.append(record)
        self.write()
        (self.dir / f"stage{number}.ckpt").unlink(missing_ok=True)

    def discard(self) -> None:
        if is_global_zero():
            shutil.rmtree(self.dir, ignore_errors=True)
