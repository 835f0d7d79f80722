"""`semcom experiment mfmsc`: MFMSC against its comparisons on the embedded tasks (Zhu et al., Fig. 10-11, Table I).

The spec (``configs/mfmsc/embedded/experiment.yaml``) names a base config and the methods, each an
architecture trained jointly over all tasks or separately per task:

    MFMSC (mfmsc, joint)   MFSC (mfmsc, separate)   MMSC (mmsc, joint)
    U-DeepSC (udeepsc, joint)   T-DeepSC (udeepsc, separate)

The embedded data are built once and shared by every run. Runs whose folder holds the same config are
reused. Every task is evaluated on AWGN at the spec's SNRs (Fig. 10) and the multi-modal tasks on Rayleigh
block fading (Fig. 11), including the classical links (:mod:`semcom_core.baselines.multitask`). The
overhead table (Table I) counts the complex symbols each method really sent per instance and their bytes
as 32-bit reals, and checks fusion's 1/L against the token counts. Everything in the results folder is
rewritten from the records each time.
"""

from __future__ import annotations

import copy
import json
import time
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from ..baselines.multitask import evaluate_classical, question_prior_accuracy  # noqa: E402
from ..bundles.mfmsc import load_mfmsc_bundle  # noqa: E402
from ..records import make_record  # noqa: E402
from ..runs.config import ConfigError, load_config  # noqa: E402
from ..runs.folder import finished_run  # noqa: E402
from ..data.mfmsc.tasks import build_tasks  # noqa: E402
from ..metrics.tasks import METRIC_OF_KIND  # noqa: E402
from ..runs.mfmsc import evaluate_task, train_run  # noqa: E402
from .figures import DPI  # noqa: E402
from .semcc import read_spec  # noqa: E402

SPEC_KEYS = {"base", "methods", "awgn_snr_db", "rayleigh_snr_db", "rayleigh_tasks", "classical", "seed"}
DATASET = "mfmsc-embedded"
BYTES_PER_REAL = 4
CLASSICAL = "Classical"
PRIOR = "Question prior"   # VQA answered from the question text alone (no image): the bar a VQA model must clear
METRIC_LABELS = {"accuracy": "accuracy", "f1": "F1 (micro)", "bleu": "BLEU", "word_accuracy": "word accuracy",
                 "psnr": "PSNR (dB)"}


def plan_runs(spec: dict, cfg: dict) -> list[dict]:
    """One job per trained system: (method, run folder name, its config)."""
    jobs = []
    for method, how in spec["methods"].items():
        arch, joint = how["arch"], bool(how["joint"])
        if joint:
            jobs.append({"method": method, "name": method, "cfg": dict(copy.deepcopy(cfg), arch=arch)})
        else:
            for task in cfg["tasks"]:
                jobs.append({"method": method, "name": f"{method}/{task}",
                             "cfg": dict(copy.deepcopy(cfg), arch=arch, tasks=[task])})
    return jobs


def _record(method: str, task, channel: str, snr: float, result: dict, seed: int, **extra) -> dict:
    metrics = {k: v for k, v in result.items() if k in METRIC_LABELS}
    return make_record(method, DATASET, channel, snr, 0.0, metrics, result["samples"], seed, task=task.name,
                       metric=METRIC_OF_KIND[task.kind], **extra)


def channel_points(spec: dict, test: dict) -> list[tuple[str, float, list[str]]]:
    """(channel, SNR, tasks) to evaluate: every task on AWGN, the spec's Rayleigh tasks on Rayleigh."""
    points = [("awgn", s, list(test)) for s in spec["awgn_snr_db"]]
    return points + [("rayleigh", s, [t for t in spec["rayleigh_tasks"] if t in test]) for s in spec["rayleigh_snr_db"]]


def evaluate_runs(jobs, runs_dir: Path, test: dict, spec: dict, seed: int, progress: bool = True) -> list[dict]:
    """Records of every method on every task and channel point."""
    records = []
    points = channel_points(spec, test)
    for job in jobs:
        system, _, _ = load_mfmsc_bundle(runs_dir / job["name"])
        for channel, snr, names in points:
            for name in names:
                if name not in system.tasks:
                    continue
                result = evaluate_task(system, test[name], channel, float(snr), seed=seed)
                symbols = result["symbols_per_instance"]
                records.append(_record(job["method"], test[name].spec, channel, snr, result, seed,
                                       symbols_per_instance=symbols, bytes_per_instance=2 * symbols * BYTES_PER_REAL))
        if progress:
            print(f"experiment mfmsc: evaluated {job['name']}")
    return records


def evaluate_classical_links(receiver_dir: Path, test: dict, spec: dict, seed: int, progress: bool = True) -> list[dict]:
    """Records of the classical links; the receiver's task networks are those of ``receiver_dir``."""
    system, _, tokenizer = load_mfmsc_bundle(receiver_dir)
    limits = spec.get("classical") or {}
    points = channel_points(spec, test)
    records = []
    for channel, snr, names in points:
        for name in names:
            result = evaluate_classical(system, test[name], channel, float(snr), tokenizer,
                                        max_items=limits.get(name, limits.get("default")), seed=seed)
            records.append(_record(CLASSICAL, test[name].spec, channel, snr, result, seed,
                                   symbols_per_instance=result["channel_uses_per_instance"],
                                   bytes_per_instance=result["bytes_per_instance"], delivered=result["delivered"],
                                   links=result["links"]))
        if progress:
            print(f"experiment mfmsc: classical links at {channel} {snr} dB")
    return records


def question_prior_records(train: dict, test: dict, spec: dict, seed: int) -> list[dict]:
    """The VQA question-only prior at every channel point where VQA is evaluated (it sends no image, so it
    does not depend on the SNR)."""
    if "vqa" not in test or "vqa" not in train:
        return []
    result = {"accuracy": question_prior_accuracy(train["vqa"], test["vqa"]), "samples": len(test["vqa"])}
    return [_record(PRIOR, test["vqa"].spec, channel, snr, result, seed, symbols_per_instance=0, bytes_per_instance=0)
            for channel, snr, names in channel_points(spec, test) if "vqa" in names]


def overhead_rows(records: list[dict]) -> list[dict]:
    """Table I: symbols and bytes per instance of every method and task (from the AWGN records)."""
    seen = {}
    for r in records:
        if r["channel"] == "awgn" and r["method"] != PRIOR:
            seen.setdefault((r["method"], r["task"]), r)
    return [{"method": m, "task": t, "symbols": r["symbols_per_instance"], "bytes": r["bytes_per_instance"]}
            for (m, t), r in sorted(seen.items())]


def fusion_check(runs_dir: Path, jobs, test: dict) -> list[dict]:
    """Fusion's 1/L: MFMSC sends one token where MMSC sends L = sum L_m + 1 (per multi-modal instance)."""
    names = {j["method"]: j["name"] for j in jobs if j["cfg"]["arch"] in ("mfmsc", "mmsc") and len(j["cfg"]["tasks"]) > 1}
    by_arch = {}
    for method, name in names.items():
        system, card, _ = load_mfmsc_bundle(runs_dir / name)
        by_arch[card["method"]] = system
    if set(by_arch) != {"mfmsc", "mmsc"}:
        return []
    rows = []
    with torch.no_grad():
        for name, data in test.items():
            if len(data.spec.modalities) < 2:
                continue
            batch = data.batch(range(min(len(data), 200)))
            _, fused_mask = by_arch["mfmsc"].semantic_tokens(name, batch)
            _, concat_mask = by_arch["mmsc"].semantic_tokens(name, batch)
            length = concat_mask.sum(1).float()
            rows.append({"task": name, "mean_L": float(length.mean()), "fused_tokens": float(fused_mask.sum(1).float().mean()),
                         "ratio": float((fused_mask.sum(1) / length).mean()), "one_over_L": float((1 / length).mean())})
    return rows


def _fmt(value: float, metric: str) -> str:
    return f"{value:.2f}" if metric == "psnr" else f"{value:.3f}"


def results_markdown(records: list[dict], overhead: list[dict], fusion: list[dict], spec: dict) -> str:
    methods = list(spec["methods"]) + [CLASSICAL] + ([PRIOR] if any(r["method"] == PRIOR for r in records) else [])
    lines = ["# MFMSC on the embedded tasks", "",
             "Per-task metric against SNR (rows: task and SNR; columns: methods). Written by `semcom experiment mfmsc`.", ""]
    for channel in ("awgn", "rayleigh"):
        rows = [r for r in records if r["channel"] == channel]
        if not rows:
            continue
        lines += [f"## {channel.upper() if channel == 'awgn' else 'Rayleigh block fading'}", "",
                  "| task | metric | SNR (dB) | " + " | ".join(methods) + " |",
                  "|---|---|---|" + "---|" * len(methods)]
        table = defaultdict(dict)
        for r in rows:
            table[(r["task"], r["metric"], r["snr_db"])][r["method"]] = r[r["metric"]]
        for (task, metric, snr), cells in table.items():
            values = [_fmt(cells[m], metric) if cells.get(m) is not None else "" for m in methods]
            lines.append(f"| {task} | {metric} | {snr:g} | " + " | ".join(values) + " |")
        lines.append("")
    lines += ["## Overhead per instance (Table I)", "",
              "Complex symbols the method sent per instance and their size as 32-bit reals (2 per symbol); for the "
              "classical links, channel uses and source bytes.", "", "| task | " + " | ".join(methods) + " |",
              "|---|" + "---|" * len(methods)]
    cells = defaultdict(dict)
    for row in overhead:
        cells[row["task"]][row["method"]] = f"{row['symbols']:.0f} sym / {row['bytes'] / 1000:.3f} KB"
    for task, by_method in cells.items():
        lines.append(f"| {task} | " + " | ".join(by_method.get(m, "") for m in methods) + " |")
    if fusion:
        lines += ["", "## Fusion's 1/L", "", "| task | mean L (MMSC tokens) | MFMSC tokens | MFMSC/MMSC | mean 1/L |",
                  "|---|---|---|---|---|"]
        lines += [f"| {f['task']} | {f['mean_L']:.1f} | {f['fused_tokens']:.0f} | {f['ratio']:.4f} | {f['one_over_L']:.4f} |"
                  for f in fusion]
    return "\n".join(lines) + "\n"


def plot_metric_grid(records: list[dict], channel: str, out_path: Path, title: str) -> Path | None:
    rows = [r for r in records if r["channel"] == channel]
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    if not tasks:
        return None
    cols = min(4, len(tasks))
    fig, axes = plt.subplots(-(-len(tasks) // cols), cols, figsize=(4.2 * cols, 3.4 * -(-len(tasks) // cols)),
                             squeeze=False)
    for ax, task in zip(axes.flat, tasks):
        curves = defaultdict(list)
        for r in rows:
            if r["task"] == task:
                curves[r["method"]].append(r)
        for method, points in curves.items():
            points.sort(key=lambda r: r["snr_db"])
            metric = points[0]["metric"]
            ax.plot([p["snr_db"] for p in points], [p[metric] for p in points],
                    "--s" if method == CLASSICAL else "-o", label=method, ms=3)
        ax.set_title(task)
        ax.set_xlabel("SNR (dB)")
        ax.set_ylabel(METRIC_LABELS[points[0]["metric"]])
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_path, dpi=DPI)
    plt.close(fig)
    return out_path


def run_mfmsc_experiment(spec_path: str | Path, runs_dir: str | Path, out_dir: str | Path,
                         overrides: dict | None = None, train: bool = True, progress: bool = True) -> Path:
    spec = read_spec(spec_path, SPEC_KEYS)
    overrides = dict(overrides or {})
    if "seed" in spec:
        overrides["seed"] = spec["seed"]
    cfg = load_config(spec["base"], overrides, family="mfmsc")
    runs_dir, out_dir = Path(runs_dir), Path(out_dir)
    jobs = plan_runs(spec, cfg)
    started = time.time()
    data = build_tasks(cfg)
    print(f"experiment mfmsc: embedded data of {len(cfg['tasks'])} tasks built in {time.time() - started:.0f} s")
    todo = [j for j in jobs if not finished_run(runs_dir / j["name"], j["cfg"])]
    if todo and not train:
        raise ConfigError(f"{len(todo)} runs are missing ({', '.join(j['name'] for j in todo)}); run without --no-train")
    for number, job in enumerate(todo, 1):
        print(f"experiment mfmsc: training {job['name']} ({number}/{len(todo)})")
        train_run(job["cfg"], runs_dir / job["name"], data=data)
    test = data[1]
    seed = int(cfg["seed"])
    records = evaluate_runs(jobs, runs_dir, test, spec, seed, progress)
    receiver = next(j["name"] for j in jobs if j["cfg"]["arch"] == "mfmsc" and len(j["cfg"]["tasks"]) > 1)
    records += evaluate_classical_links(runs_dir / receiver, test, spec, seed, progress)
    records += question_prior_records(data[0], test, spec, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "records.jsonl").open("w") as f:
        for r in records:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    overhead = overhead_rows(records)
    fusion = fusion_check(runs_dir, jobs, test)
    (out_dir / "overhead.json").write_text(json.dumps({"overhead": overhead, "fusion": fusion}, indent=1) + "\n")
    (out_dir / "results.md").write_text(results_markdown(records, overhead, fusion, spec))
    plot_metric_grid(records, "awgn", out_dir / "fig10_awgn.png", "Per-task metric on AWGN (Fig. 10)")
    plot_metric_grid(records, "rayleigh", out_dir / "fig11_rayleigh.png", "Multi-modal tasks on Rayleigh fading (Fig. 11)")
    print((out_dir / "results.md").read_text())
    print(f"experiment mfmsc: done in {time.time() - started:.0f} s; {out_dir}")
    return out_dir
