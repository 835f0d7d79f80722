"""`semcom train` under torchrun: two CPU processes (gloo) join one training through Lightning's DDP;
rank 0 alone writes the run folder and prints; validation metrics are averaged over the processes, so
early stopping decides the same on both."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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
