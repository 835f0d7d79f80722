"""``semcom bench train-precision``: does a faster way of training give models as good as the reference one,
method by method? By default bfloat16 (``trainer.precision: bf16-mixed``) against float32; ``32-compiled`` and
``bf16-compiled`` add ``trainer.compile`` (torch.compile) to either.

Each method's config is trained twice with the same seed, data and budget (a short one: the question is
whether the losses' numerics hold, not how good a model gets), once per mode. Both are then evaluated
the same way, in float32, on the same test images and channel noise, so any difference comes from training.
A method may train in the candidate mode when its PSNR is no more than ``psnr_tolerance_db`` and its accuracy
no more than ``accuracy_tolerance`` below the reference's. Runs are reused when their folder holds the same config.
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

METHOD_CONFIGS = {
    "deepjscc": "configs/semcc/fmnist/deepjscc.yaml",
    "deepsc": "configs/semcc/fmnist/deepsc.yaml",
    "semcc": "configs/semcc/fmnist/semcc.yaml",
    "semre": "configs/semcc/fmnist/semre.yaml",
    "mijscc": "configs/mijscc/fmnist/mijscc.yaml",
}
#: the modes' names in tables
LABELS = {"32-true": "float32", "32-compiled": "float32 + torch.compile", "bf16-mixed": "bf16",
          "bf16-compiled": "bf16 + torch.compile"}
#: training mode -> its trainer settings
MODES = {"32-true": {"precision": "32-true", "compile": False},
         "32-compiled": {"precision": "32-true", "compile": True},
         "bf16-mixed": {"precision": "bf16-mixed", "compile": False},
         "bf16-compiled": {"precision": "bf16-mixed", "compile": True}}


def check_config(path: str, train_size: int, epochs: int, finetune_epochs: int, classifier: str | None,
                 seed: int, mode: str, overrides: dict | None = None) -> dict:
    """The method's config (with ``overrides``) and the short budget every run of the check gets: no early
    stop, so both modes train as long; a fine-tuning stage only where the method has one."""
    if mode not in MODES:
        raise ValueError(f"unknown training mode {mode!r}; known: {', '.join(MODES)}")
    layer = {"seed": int(seed), "dataset": {"train_size": int(train_size)},
             "trainer": {"max_epochs": int(epochs), "patience": int(epochs) + 1, **MODES[mode]}}
    if classifier:
        layer["classifier"] = {"checkpoint": str(classifier)}
    if load_config(path, overrides)["finetune"]["epochs"] > 0:
        layer["finetune"] = {"epochs": int(finetune_epochs)}
    return load_config(path, overrides, layer)


def verdict(reference: dict, candidate: dict, psnr_tolerance_db: float = 0.1, accuracy_tolerance: float = 0.01) -> bool:
    """True when the candidate-trained model is at least as good as the reference one, within the tolerances."""
    return (candidate["psnr"] >= reference["psnr"] - psnr_tolerance_db
            and candidate["accuracy"] >= reference["accuracy"] - accuracy_tolerance)


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
                          configs: dict | None = None, overrides: dict | None = None, reference: str = "32-true",
                          candidate: str = "bf16-mixed") -> list[dict]:
    """Train every method in the ``reference`` and the ``candidate`` mode (or reuse the runs), evaluate both in
    float32 and write ``records.jsonl`` and ``results.md`` to ``out_dir``. Returns one row per method.

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
        by_mode = {}
        for mode in (reference, candidate):
            cfg = check_config(configs[method], train_size, epochs, finetune_epochs, classifier, seed, mode,
                               overrides)
            run_dir = runs_dir / f"{method}-{mode}"
            if finished_run(run_dir, cfg):      # checks the budget and precision; the mode's compile too:
                compiled = read_run(run_dir)["config"]["trainer"].get("compile", False)
                if compiled != cfg["trainer"]["compile"]:
                    raise ConfigError(f"{run_dir} was trained with trainer.compile={compiled}; choose another "
                                      "--runs folder")
            else:
                print(f"train-precision: training {method} in {mode} ({epochs} epochs of {train_size} images)",
                      flush=True)
                started = time.time()
                train_run(cfg, run_dir)
                print(f"train-precision: {method} {mode} trained in {time.time() - started:.0f} s", flush=True)
            run = read_run(run_dir)
            metrics = _evaluate(run_dir, samples, seed)
            record = make_record(method, cfg["dataset"]["name"], cfg["channel"]["name"], cfg["val_snr_db"],
                                 cfg["ratio"], {k: metrics[k] for k in ("psnr", "ssim", "accuracy")},
                                 metrics["samples"], seed, source="train-precision", mode=mode,
                                 precision=cfg["trainer"]["precision"], compile=cfg["trainer"]["compile"],
                                 train_seconds=run.get("seconds"), train_size=int(train_size),
                                 epochs=[s.get("epochs_run") for s in run.get("stages", [])])
            by_mode[mode] = record
            records.append(record)
        ref, cand = by_mode[reference], by_mode[candidate]
        rows.append({"method": method, "psnr_reference": ref["psnr"], "psnr_candidate": cand["psnr"],
                     "accuracy_reference": ref["accuracy"], "accuracy_candidate": cand["accuracy"],
                     "seconds_reference": ref["train_seconds"], "seconds_candidate": cand["train_seconds"],
                     "speedup": (ref["train_seconds"] / cand["train_seconds"]
                                 if ref["train_seconds"] and cand["train_seconds"] else float("nan")),
                     "holds": verdict(ref, cand, psnr_tolerance_db, accuracy_tolerance)})
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "records.jsonl").open("w") as f:
        for r in records:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    (out_dir / "results.md").write_text(results_markdown(rows, reference, candidate, train_size, epochs,
                                                         finetune_epochs, samples, psnr_tolerance_db,
                                                         accuracy_tolerance))
    return rows


def results_markdown(rows, reference, candidate, train_size, epochs, finetune_epochs, samples, psnr_tolerance_db,
                     accuracy_tolerance) -> str:
    ref, cand = LABELS.get(reference, reference), LABELS.get(candidate, candidate)
    lines = [f"# Training in {cand} against {ref}", "",
             f"Each method trained twice with the same seed and data, {epochs} epochs of {train_size} training "
             f"images (fine-tuning stages {finetune_epochs}), once per mode; both evaluated in float32 on "
             f"{samples} test images with the same channel noise, at the method's training SNR. Written by "
             f"`semcom bench train-precision --reference {reference} --candidate {candidate}`.", "",
             f"{cand} holds when its PSNR is at most {psnr_tolerance_db:g} dB and its accuracy at most "
             f"{accuracy_tolerance:g} below {ref}'s.", "",
             f"| method | PSNR {ref} (dB) | PSNR {cand} (dB) | accuracy {ref} | accuracy {cand} | training s {ref} | "
             f"training s {cand} | speed-up | {cand} holds |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['method']} | {r['psnr_reference']:.2f} | {r['psnr_candidate']:.2f} | "
                     f"{r['accuracy_reference']:.4f} | {r['accuracy_candidate']:.4f} | {r['seconds_reference']:.0f} | "
                     f"{r['seconds_candidate']:.0f} | {r['speedup']:.2f} | {'yes' if r['holds'] else 'no'} |")
    return "\n".join(lines) + "\n"
