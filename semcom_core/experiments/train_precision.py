"""``semcom bench train-precision``: does training in bfloat16 (``trainer.precision: bf16-mixed``) give models
as good as float32 ones, method by method?

Each method's config is trained twice with the same seed, data and budget (a short one: the question is
whether the losses' numerics hold, not how good a model gets), once per precision. Both are then evaluated
the same way, in float32, on the same test images and channel noise, so any difference comes from training.
A method may train in bf16 when its PSNR is no more than ``psnr_tolerance_db`` and its accuracy no more than
``accuracy_tolerance`` below float32's. Runs are reused when their folder holds the same config.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

import torch

from ..bundles.evaluate import evaluate_models
from ..channels import make_channel
from ..data import load_dataset
from ..records import make_record
from ..runs.config import ConfigError, load_config
from ..runs.folder import finished_run, read_run
from ..runs.image import load_run, train_run
from .bench import PRECISIONS as TRAIN_PRECISIONS

METHOD_CONFIGS = {
    "deepjscc": "configs/semcc/fmnist/deepjscc.yaml",
    "deepsc": "configs/semcc/fmnist/deepsc.yaml",
    "semcc": "configs/semcc/fmnist/semcc.yaml",
    "semre": "configs/semcc/fmnist/semre.yaml",
    "mijscc": "configs/mijscc/fmnist/mijscc.yaml",
}
PRECISIONS = tuple(TRAIN_PRECISIONS)    # float32, then bf16-mixed


def check_config(path: str, train_size: int, epochs: int, finetune_epochs: int, classifier: str | None,
                 seed: int, precision: str, overrides: dict | None = None) -> dict:
    """The method's config (with ``overrides``) and the short budget every run of the check gets: no early
    stop, so both precisions train as long; a fine-tuning stage only where the method has one."""
    layer = {"seed": int(seed), "dataset": {"train_size": int(train_size)},
             "trainer": {"max_epochs": int(epochs), "patience": int(epochs) + 1, "precision": precision}}
    if classifier:
        layer["classifier"] = {"checkpoint": str(classifier)}
    if load_config(path, overrides)["finetune"]["epochs"] > 0:
        layer["finetune"] = {"epochs": int(finetune_epochs)}
    return load_config(path, overrides, layer)


def verdict(fp32: dict, bf16: dict, psnr_tolerance_db: float = 0.1, accuracy_tolerance: float = 0.01) -> bool:
    """True when the bf16-trained model is at least as good as the float32 one, within the tolerances."""
    return (bf16["psnr"] >= fp32["psnr"] - psnr_tolerance_db
            and bf16["accuracy"] >= fp32["accuracy"] - accuracy_tolerance)


@functools.lru_cache(maxsize=2)
def _test_images(name: str, root, samples: int):
    """The first ``samples`` test images and labels, read once for every run that evaluates on them."""
    data = load_dataset(name, "test", root=root)
    return data.batch(range(min(samples, len(data))))


def _evaluate(run_dir: Path, samples: int, seed: int) -> dict:
    """PSNR and accuracy of a run's transceiver and downstream classifier, in float32, at its validation SNR."""
    run, transceiver, classifier = load_run(run_dir)
    cfg = run["config"]
    images, labels = _test_images(cfg["dataset"]["name"], cfg["dataset"]["root"], samples)
    channel = make_channel(cfg["channel"]["name"], generator=torch.Generator().manual_seed(seed))
    metrics = evaluate_models(transceiver, classifier, channel, float(cfg["val_snr_db"]), images, labels)
    return {**metrics, "samples": len(images) - metrics["invalid"]}


def check_train_precision(methods=None, runs_dir="runs/train-precision", out_dir="results/train-precision",
                          train_size: int = 5000, epochs: int = 5, finetune_epochs: int = 2,
                          classifier: str | None = None, samples: int = 2000, seed: int = 0,
                          psnr_tolerance_db: float = 0.1, accuracy_tolerance: float = 0.01,
                          configs: dict | None = None, overrides: dict | None = None) -> list[dict]:
    """Train every method in both precisions (or reuse the runs), evaluate both in float32 and write
    ``records.jsonl`` and ``results.md`` to ``out_dir``. Returns one row per method.

    ``configs``: method -> config file (default :data:`METHOD_CONFIGS`); ``overrides``: a config layer under
    the check's budget (the tests' tiny models)."""
    configs = configs or METHOD_CONFIGS
    methods = list(methods or configs)
    unknown = [m for m in methods if m not in configs]
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(configs)}")
    runs_dir, out_dir = Path(runs_dir), Path(out_dir)
    records, rows = [], []
    for method in methods:
        by_precision = {}
        for precision in PRECISIONS:
            cfg = check_config(configs[method], train_size, epochs, finetune_epochs, classifier, seed, precision,
                               overrides)
            run_dir = runs_dir / f"{method}-{precision}"
            if finished_run(run_dir, cfg):      # ignores trainer settings, but the budget must match
                trained = {k: read_run(run_dir)["config"]["trainer"][k] for k in ("max_epochs", "precision")}
                if trained != {k: cfg["trainer"][k] for k in trained}:
                    raise ConfigError(f"{run_dir} was trained with {trained}; choose another --runs folder")
            else:
                print(f"train-precision: training {method} in {precision} ({epochs} epochs of {train_size} images)",
                      flush=True)
                started = time.time()
                train_run(cfg, run_dir)
                print(f"train-precision: {method} {precision} trained in {time.time() - started:.0f} s", flush=True)
            run = read_run(run_dir)
            metrics = _evaluate(run_dir, samples, seed)
            record = make_record(method, cfg["dataset"]["name"], cfg["channel"]["name"], cfg["val_snr_db"],
                                 cfg["ratio"], {k: metrics[k] for k in ("psnr", "ssim", "accuracy")},
                                 metrics["samples"], seed, source="train-precision", precision=precision,
                                 train_seconds=run.get("seconds"), train_size=int(train_size),
                                 epochs=[s.get("epochs_run") for s in run.get("stages", [])])
            by_precision[precision] = record
            records.append(record)
        fp32, bf16 = by_precision["32-true"], by_precision["bf16-mixed"]
        rows.append({"method": method, "psnr_fp32": fp32["psnr"], "psnr_bf16": bf16["psnr"],
                     "accuracy_fp32": fp32["accuracy"], "accuracy_bf16": bf16["accuracy"],
                     "seconds_fp32": fp32["train_seconds"], "seconds_bf16": bf16["train_seconds"],
                     "speedup": (fp32["train_seconds"] / bf16["train_seconds"]
                                 if fp32["train_seconds"] and bf16["train_seconds"] else float("nan")),
                     "bf16_ok": verdict(fp32, bf16, psnr_tolerance_db, accuracy_tolerance)})
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "records.jsonl").open("w") as f:
        for r in records:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    (out_dir / "results.md").write_text(results_markdown(rows, train_size, epochs, finetune_epochs, samples,
                                                         psnr_tolerance_db, accuracy_tolerance))
    return rows


def results_markdown(rows, train_size, epochs, finetune_epochs, samples, psnr_tolerance_db,
                     accuracy_tolerance) -> str:
    lines = ["# Training in bfloat16 against float32", "",
             f"Each method trained twice with the same seed and data, {epochs} epochs of {train_size} training "
             f"images (fine-tuning stages {finetune_epochs}), once per precision; both evaluated in float32 on "
             f"{samples} test images with the same channel noise, at the method's training SNR. Written by "
             "`semcom bench train-precision`.", "",
             f"bf16 holds when its PSNR is at most {psnr_tolerance_db:g} dB and its accuracy at most "
             f"{accuracy_tolerance:g} below float32's.", "",
             "| method | PSNR fp32 (dB) | PSNR bf16 (dB) | accuracy fp32 | accuracy bf16 | training s fp32 | "
             "training s bf16 | speed-up | bf16 holds |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['method']} | {r['psnr_fp32']:.2f} | {r['psnr_bf16']:.2f} | {r['accuracy_fp32']:.4f} | "
                     f"{r['accuracy_bf16']:.4f} | {r['seconds_fp32']:.0f} | {r['seconds_bf16']:.0f} | "
                     f"{r['speedup']:.2f} | {'yes' if r['bf16_ok'] else 'no'} |")
    return "\n".join(lines) + "\n"
