"""`semcom train` under torchrun: two CPU processes (gloo) join one training through Lightning's DDP;
rank 0 alone writes the run folder and prints; validation metrics are averaged over the processes, so
early stopping decides the same on both."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

CONFIG = """method: deepjscc
dataset: {name: fashion-mnist, train_size: 256, val_size: 64}
ratio: 1/12
model: {width: 8}
trainer: {max_epochs: 3, patience: 1, min_delta: 10.0, batch_size: 32, progress_bar: false, devices: 2,
          accelerator: cpu, strategy: ddp}
classifier: {depth: 8, max_epochs: 1}
"""


@pytest.mark.skipif(shutil.which("torchrun", path=str(Path(sys.executable).parent)) is None, reason="no torchrun")
def test_two_processes_train_one_run(tmp_path):
    (tmp_path / "c.yaml").write_text(CONFIG)
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run([torchrun, "--nproc-per-node", "2", "-m", "semcom_core.cli.main", "train", "--config",
                           "c.yaml", "--out", "run"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("train: done in") == 1            # one report, from rank 0
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["config"]["trainer"]["devices"] == 2
    stage = run["stages"][0]
    assert stage["epochs_run"] == 2 and stage["stopped_early"]   # min_delta 10: no epoch improves, both ranks stop
    assert {p.name for p in (tmp_path / "run").iterdir()} >= {"run.json", "transceiver.safetensors",
                                                              "method.safetensors", "classifier.safetensors"}


MFMSC_CONFIG = {"seed": 0, "arch": "mfmsc", "tasks": ["image_cls", "text_cls"],
                "data": {"train_size": 64, "test_size": 16, "vocab_size": 400},
                "model": {"dim": 24, "image_width": 8, "fusion_layers": 1, "fusion_heads": 4, "encoder_heads": 4,
                          "channel_hidden": 16, "symbols_per_token": 2, "text_layers": 1},
                "train": {"epochs": 1, "batch_size": 16, "warmup_steps": 1},
                "trainer": {"progress_bar": False, "devices": 2, "strategy": "ddp"}}


def test_mfmsc_task_schedule_shards_every_batch_over_the_processes():
    """Every process draws the same task at every step (the per-task optimisers need it); the processes'
    shards of a step partition that step's single-process batch."""
    from semcom_core.runs.mfmsc import TaskSchedule

    class Sized:
        def __init__(self, n):
            self.n = n

        def __len__(self):
            return self.n

    tasks = {"a": Sized(37), "b": Sized(20), "c": Sized(1)}
    whole = TaskSchedule(tasks, 8, seed=3).plan(0)
    shards = [TaskSchedule(tasks, 8, seed=3, rank=r, world=3) for r in range(3)]
    assert len(whole) == len(shards[0]) == 5 + 3 + 1
    for step, (name, indices) in enumerate(whole):
        parts = [s.shard(indices) for s in shards]
        assert all(len(p) for p in parts)
        if len(indices) >= 3:
            assert sorted(np.concatenate(parts).tolist()) == sorted(indices.tolist())
        else:                                   # the 1-instance batch of task c: shared, none empty
            assert set(np.concatenate(parts).tolist()) == set(indices.tolist())


@pytest.mark.slow
def test_mfmsc_trains_in_two_processes(tmp_path):
    """`semcom mfmsc train` with trainer.devices=2 (gloo on CPU): one report and one bundle from rank 0, the
    processes end with the same weights, and the bundle evaluates."""
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({**MFMSC_CONFIG, "data": {**MFMSC_CONFIG["data"],
                                                                                "cache_dir": str(tmp_path / "cache")}}))
    semcom = Path(sys.executable).with_name("semcom")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    done = subprocess.run([str(semcom), "mfmsc", "train", "--config", "c.yaml", "--out", "run"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("mfmsc train: done in") == 1 and "2 process(es)" in done.stdout
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["processes"] == 2 and run["ranks_agree"] is True
    assert run["steps"] == 4 + 4                      # 64 instances per task in global batches of 16
    card = json.loads((tmp_path / "run" / "card.json").read_text())
    assert card["processes"] == 2
    evaluated = subprocess.run([str(semcom), "mfmsc", "eval", "--bundle", "run", "--snr", "20"], cwd=tmp_path,
                               env=env, capture_output=True, text=True, timeout=300)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert "image_cls" in evaluated.stdout and "text_cls" in evaluated.stdout
