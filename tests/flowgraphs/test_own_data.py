"""A newcomer's own data end to end: a CIFAR-format folder made here, `semcom train --data-root`, export
(the card keeps the folder), eval and the loopback flowgraph without naming the folder again, and an
export that fails leaves no bundle behind."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gnuradio.gr", reason="GNU Radio is not importable by this Python")

from gnuradio.semcom import running   # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CONFIG = """method: deepjscc
dataset: {name: cifar10, val_size: 32}
ratio: 1/12
model: {width: 8}
trainer: {max_epochs: 1, batch_size: 32, progress_bar: false}
classifier: {depth: 8, max_epochs: 1}
"""


def make_cifar_folder(root: Path, per_batch: int = 48, str_keys: bool = False) -> Path:
    """A `cifar-10-batches-py` folder in the standard format (optionally re-pickled with str keys)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"labels": rng.integers(0, 10, per_batch).tolist(),
                 "data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)}
        if not str_keys:
            batch = {k.encode(): v for k, v in batch.items()}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
    return folder


def semcom(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "semcom_core.cli.main", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.skipif(shutil.which("grcc") is None, reason="grcc not on PATH")
def test_own_cifar_folder_trains_exports_evaluates_and_runs_in_the_flowgraph(tmp_path):
    data = make_cifar_folder(tmp_path / "data", str_keys=True)      # str keys are read as well
    (tmp_path / "c.yaml").write_text(CONFIG)
    done = semcom("train", "--config", "c.yaml", "--out", "run", "--data-root", str(data), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    done = semcom("export", "--run", "run", "--out", "bundle", "--samples", "48", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    from semcom_core.bundles import load_bundle

    bundle = load_bundle(tmp_path / "bundle")
    assert bundle.dataset() == ("cifar10", str(data.resolve()))
    done = semcom("eval", "--bundle", "bundle", "--snr", "10", "--samples", "48", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1].split()[-2:] == ["48", "eval"]    # all 48 test images read
    summary = running.run_loopback(str(tmp_path / "bundle"), snr_db=10.0, num_images=48, timeout_s=300)
    assert summary["complete"] and summary["count"] == 48 and summary["dataset"] == "cifar10", summary
    # the data moved since the export: `semcom demo --data-root` points the flowgraph's image source and the
    # library evaluation beside it at the new folder
    shutil.move(str(data), str(tmp_path / "moved"))
    done = semcom("demo", "--bundle", "bundle", "--snr-db", "10", "--images", "48", "--out-dir", "demo",
                  "--data-root", str(tmp_path / "moved"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    records = [json.loads(line) for name in ("flowgraph.jsonl", "eval.jsonl")
               for line in (tmp_path / "demo" / name).read_text().splitlines()]
    assert [(r["source"], r["samples"]) for r in records] == [("flowgraph", 48), ("eval", 48)]


def test_a_failed_export_leaves_no_bundle(tmp_path):
    data = make_cifar_folder(tmp_path / "data")
    (tmp_path / "c.yaml").write_text(CONFIG)
    assert semcom("train", "--config", "c.yaml", "--out", "run", "--data-root", str(data), cwd=tmp_path).returncode == 0
    shutil.move(str(data), str(tmp_path / "moved"))                 # the data is no longer where the run read it
    done = semcom("export", "--run", "run", "--out", "bundle", cwd=tmp_path)
    assert done.returncode == 2 and "--data-root DIR" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "data", "moved", "run"]   # nothing half-written
    moved = tmp_path / "moved"
    done = semcom("export", "--run", "run", "--out", "bundle", "--samples", "48", "--data-root", str(moved),
                  cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "bundle" / "card.json").is_file()
