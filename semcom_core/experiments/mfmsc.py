"""`semcom experiment mfmsc`: MFMSC against its comparisons on the embedded tasks (Zhu et al., Fig. 10-11, Table I).

The spec (``configs/mfmsc/embedded/experiment.yaml``) names a base config and the methods, each an
architecture trained jointly over all tasks or separately per task:

    MFMSC (mfmsc, joint)   MFSC (mfmsc, separate)   MMSC (mmsc, joint)
    U-DeepSC (udeepsc, joint)   T-DeepSC (udeepsc, separate)

Per seed (``seeds: [...]`` in the spec) the embedded data are built once and shared by every run of that
seed; a seed changes the generated data, the initialisation and the batches. Runs live in
``<runs>/seed<S>/<method>[/<task>]``; a run whose folder holds the same config is reused, and a seed whose runs
are all reused keeps its evaluation (``<runs>/seed<S>/evaluation.json``), so an interrupted experiment
resumes run by run. Every task is evaluated on AWGN at the spec's SNRs (Fig. 10) and the multi-modal tasks on Rayleigh
block fading (Fig. 11), including the classical links (:mod:`semcom_core.baselines.multitask`). The
overhead table (Table I) counts the complex symbols each method really sent per instance and their bytes
as 32-bit reals, and checks fusion's 1/L against the token counts. Tables give the mean and standard
deviation over seeds, the figures a band of one standard deviation, and a claims table checks the paper's
claims against them. Everything in the results folder is rewritten from the records each time.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
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
from .spec import read_spec, spec_seeds  # noqa: E402

SPEC_KEYS = {"base", "methods", "awgn_snr_db", "rayleigh_snr_db", "rayleigh_tasks", "classical", "seed", "seeds"}
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


def summarise(records: list[dict]) -> dict[tuple, tuple[float, float, int]]:
    """(method, task, channel, SNR) -> (mean, standard deviation, number of seeds) of the task's metric."""
    values = defaultdict(list)
    for r in records:
        if r.get(r["metric"]) is not None:
            values[(r["method"], r["task"], r["channel"], r["snr_db"])].append(r[r["metric"]])
    return {key: (float(np.mean(v)), float(np.std(v)), len(v)) for key, v in values.items()}


def _fmt(value: float, metric: str) -> str:
    return f"{value:.2f}" if metric == "psnr" else f"{value:.3f}"


def _cell(stats: tuple[float, float, int] | None, metric: str) -> str:
    if stats is None:
        return ""
    mean, std, n = stats
    return _fmt(mean, metric) if n == 1 else f"{_fmt(mean, metric)} ± {_fmt(std, metric)}"


# ---- the paper's claims ---------------------------------------------------------------------------------
CLOSE = {"psnr": 1.0}          # "close" / "on par": within this many units of the metric (PSNR in dB) ...
CLOSE_DEFAULT = 0.03           # ... or within 0.03 for the metrics in [0, 1]
MULTIMODAL_TASKS = ("vqa", "poster")
PAPER_OVERHEAD_CUT = {("vqa", "MMSC"): 98.0, ("vqa", "U-DeepSC"): 46.7, ("vqa", "T-DeepSC"): 46.7,
                      ("poster", "MMSC"): 96.8, ("poster", "U-DeepSC"): 63.6, ("poster", "T-DeepSC"): 63.6}


def _verdict(holds: bool) -> str:
    return "holds" if holds else "does not hold"


def _gap(stats: dict, a: str, b: str, task: str, channel: str, snr: float):
    """(mean of a - mean of b, the larger std) at one point, or None when either is missing."""
    if (a, task, channel, snr) not in stats or (b, task, channel, snr) not in stats:
        return None
    (ma, sa, _), (mb, sb, _) = stats[(a, task, channel, snr)], stats[(b, task, channel, snr)]
    return ma - mb, max(sa, sb)


def claims_rows(records: list[dict], overhead: list[dict], spec: dict) -> list[dict]:
    """The paper's claims (Section V, Fig. 10-11, Table I), each checked against the records.

    Rows: claim, the paper's figure, ours, verdict. "Beats" means ahead by more than the larger standard
    deviation over seeds; "close" means within :data:`CLOSE_DEFAULT` (1 dB of PSNR). An overhead cut holds
    when it is no more than 5 percentage points below the paper's."""
    stats = summarise(records)
    metric_of = {r["task"]: r["metric"] for r in records}
    tasks = list(dict.fromkeys(r["task"] for r in records if r["channel"] == "awgn"))
    low, high = min(spec["awgn_snr_db"]), max(spec["awgn_snr_db"])
    rows = []

    def fmt(task, value):
        return _fmt(value, metric_of[task])

    def compare(claim, paper, a, b, task_list, channel, snr, want):
        results = [(t, _gap(stats, a, b, t, channel, snr)) for t in task_list]
        results = [(t, g) for t, g in results if g is not None]
        if not results:
            return
        close = {t: CLOSE.get(metric_of[t], CLOSE_DEFAULT) for t, _ in results}
        ok = {"beats": lambda t, g: g[0] > g[1], "close": lambda t, g: abs(g[0]) <= close[t]}[want]
        good = [t for t, g in results if ok(t, g)]
        ours = "; ".join(f"{t} {'+' if g[0] >= 0 else ''}{fmt(t, g[0])}" for t, g in results)
        rows.append({"claim": claim, "paper": paper, "ours": f"{a} - {b} at {channel} {snr:g} dB: {ours} "
                     f"({len(good)}/{len(results)} tasks)", "verdict": _verdict(len(good) == len(results))})

    compare("Semantic systems beat the classical links at low SNR", "Fig. 10", "MFMSC", CLASSICAL, tasks,
            "awgn", low, "beats")
    compare("MFMSC performs close to MFSC (one model for all tasks)", "Fig. 10", "MFMSC", "MFSC", tasks, "awgn",
            high, "close")
    single = [t for t in tasks if t not in MULTIMODAL_TASKS]
    compare("Fusion leaves single-modal tasks unchanged: MFMSC on par with MMSC", "Fig. 10", "MFMSC", "MMSC",
            single, "awgn", high, "close")
    for channel in ("awgn", "rayleigh"):
        points = spec["awgn_snr_db"] if channel == "awgn" else spec.get("rayleigh_snr_db") or []
        if points:
            compare("Fusion improves multi-modal tasks (about 10 %): MFMSC beats MMSC", "Fig. 10g-h, 11",
                    "MFMSC", "MMSC", MULTIMODAL_TASKS, channel, max(points), "beats")
    for other in ("U-DeepSC", "T-DeepSC"):
        compare(f"MFMSC beats {other}", "Fig. 10", "MFMSC", other, tasks, "awgn", high, "beats")
    symbols = {(o["method"], o["task"]): o["symbols"] for o in overhead}
    for (task, other), paper in PAPER_OVERHEAD_CUT.items():
        if ("MFMSC", task) in symbols and (other, task) in symbols:
            cut = 100 * (1 - symbols[("MFMSC", task)] / symbols[(other, task)])
            rows.append({"claim": f"Fusion cuts the {task} overhead against {other}", "paper": f"Table I: {paper:.1f} %",
                         "ours": f"{cut:.1f} % ({symbols[('MFMSC', task)]:.0f} against {symbols[(other, task)]:.0f} "
                                 "symbols)", "verdict": _verdict(cut >= paper - 5)})
    gap = _gap(stats, "MFMSC", PRIOR, "vqa", "awgn", high)
    if gap is not None:
        rows.append({"claim": "VQA looks at the image: MFMSC beats the question-only prior by 0.1 or more",
                     "paper": "(VQA v2 accuracy)", "ours": f"{'+' if gap[0] >= 0 else ''}{gap[0]:.3f} at {high:g} dB",
                     "verdict": _verdict(gap[0] >= 0.1)})
    return rows


def results_markdown(records: list[dict], overhead: list[dict], fusion: list[dict], spec: dict) -> str:
    methods = list(spec["methods"]) + [CLASSICAL] + ([PRIOR] if any(r["method"] == PRIOR for r in records) else [])
    seeds = sorted({r["seed"] for r in records})
    stats = summarise(records)
    lines = ["# MFMSC on the embedded tasks", "",
             "Per-task metric against SNR (rows: task and SNR; columns: methods). Written by `semcom experiment mfmsc`. "
             f"Seeds: {', '.join(map(str, seeds))}" + (" (mean ± standard deviation)." if len(seeds) > 1 else "."), ""]
    for channel in ("awgn", "rayleigh"):
        keys = sorted({(r["task"], r["metric"], r["snr_db"]) for r in records if r["channel"] == channel},
                      key=lambda k: (k[2], [r["task"] for r in records].index(k[0])))
        if not keys:
            continue
        lines += [f"## {channel.upper() if channel == 'awgn' else 'Rayleigh block fading'}", "",
                  "| task | metric | SNR (dB) | " + " | ".join(methods) + " |",
                  "|---|---|---|" + "---|" * len(methods)]
        for task, metric, snr in keys:
            values = [_cell(stats.get((m, task, channel, snr)), metric) for m in methods]
            lines.append(f"| {task} | {metric} | {snr:g} | " + " | ".join(values) + " |")
        lines.append("")
    lines += ["## The paper's claims", "",
              "Checked on the records: \"beats\" means ahead by more than the larger standard deviation over seeds, "
              f"\"close\" within {CLOSE_DEFAULT} (1 dB of PSNR).", "", "| claim | paper | ours | verdict |",
              "|---|---|---|---|"]
    lines += [f"| {c['claim']} | {c['paper']} | {c['ours']} | {c['verdict']} |" for c in claims_rows(records, overhead, spec)]
    lines += ["", "## Overhead per instance (Table I)", "",
              "Complex symbols the method sent per instance and their size as 32-bit reals (2 per symbol); for the "
              "classical links, channel uses and source bytes.", "", "| task | " + " | ".join(methods) + " |",
              "|---|" + "---|" * len(methods)]
    cells = defaultdict(dict)
    for row in overhead:
        cells[row["task"]][row["method"]] = f"{row['symbols']:.0f} sym / {row['bytes'] / 1000:.3f} KB"
    for task, by_method in cells.items():
        lines.append(f"| {task} | " + " | ".join(by_method.get(m, "") for m in methods) + " |")
    if fusion:
        lines += ["", "## Fusion's 1/L", "", "| task | seed | mean L (MMSC tokens) | MFMSC tokens | MFMSC/MMSC | mean 1/L |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {f['task']} | {f.get('seed', '')} | {f['mean_L']:.1f} | {f['fused_tokens']:.0f} | "
                  f"{f['ratio']:.4f} | {f['one_over_L']:.4f} |" for f in fusion]
    return "\n".join(lines) + "\n"


def plot_metric_grid(records: list[dict], channel: str, out_path: Path, title: str) -> Path | None:
    """One panel per task: each method's mean metric against SNR, with a band of one standard deviation."""
    rows = [r for r in records if r["channel"] == channel]
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    if not tasks:
        return None
    stats = summarise(rows)
    metric_of = {r["task"]: r["metric"] for r in rows}
    cols = min(4, len(tasks))
    fig, axes = plt.subplots(-(-len(tasks) // cols), cols, figsize=(4.2 * cols, 3.4 * -(-len(tasks) // cols)),
                             squeeze=False)
    methods = list(dict.fromkeys(r["method"] for r in rows))
    for ax, task in zip(axes.flat, tasks):
        for method in methods:
            points = sorted((snr, v) for (m, t, _, snr), v in stats.items() if m == method and t == task)
            if not points:
                continue
            snrs = [p[0] for p in points]
            mean, std = np.array([p[1][0] for p in points]), np.array([p[1][1] for p in points])
            line, = ax.plot(snrs, mean, "--s" if method in (CLASSICAL, PRIOR) else "-o", label=method, ms=3)
            ax.fill_between(snrs, mean - std, mean + std, color=line.get_color(), alpha=0.15, lw=0)
        ax.set_title(task)
        ax.set_xlabel("SNR (dB)")
        ax.set_ylabel(METRIC_LABELS[metric_of[task]])
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    seeds = len({r["seed"] for r in rows})
    fig.suptitle(f"{title}, mean over {seeds} seed{'s' if seeds > 1 else ''}" + (" (band: ±1 std)" if seeds > 1 else ""))
    fig.tight_layout()
    fig.savefig(out_path, dpi=DPI)
    plt.close(fig)
    return out_path


def _evaluation_key(spec: dict, jobs: list[dict]) -> str:
    """What a seed's evaluation depends on besides the trained weights: the channel points, the classical
    links' sizes and every run's config."""
    what = {k: spec.get(k) for k in ("awgn_snr_db", "rayleigh_snr_db", "rayleigh_tasks", "classical")}
    what["runs"] = {j["name"]: j["cfg"] for j in jobs}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_seed(spec: dict, seed: int, overrides: dict, seed_dir: Path, train: bool = True,
             progress: bool = True) -> tuple[list[dict], list[dict]]:
    """(records, fusion rows) of one seed: trains its missing runs, then evaluates them, or reuses the
    seed's evaluation when nothing was trained and the spec's evaluation part is unchanged."""
    cfg = load_config(spec["base"], overrides, {"seed": seed}, family="mfmsc")
    jobs = plan_runs(spec, cfg)
    todo = [j for j in jobs if not finished_run(seed_dir / j["name"], j["cfg"])]
    if todo and not train:
        raise ConfigError(f"seed {seed}: {len(todo)} runs are missing ({', '.join(j['name'] for j in todo)}); "
                          "run without --no-train")
    saved, key = seed_dir / "evaluation.json", _evaluation_key(spec, jobs)
    if not todo and saved.is_file():
        evaluation = json.loads(saved.read_text())
        if evaluation.get("key") == key:
            print(f"experiment mfmsc: seed {seed}: every run and its evaluation reused")
            return evaluation["records"], evaluation["fusion"]
    started = time.time()
    data = build_tasks(cfg)
    print(f"experiment mfmsc: seed {seed}: embedded data of {len(cfg['tasks'])} tasks built in "
          f"{time.time() - started:.0f} s")
    for number, job in enumerate(todo, 1):
        print(f"experiment mfmsc: seed {seed}: training {job['name']} ({number}/{len(todo)})")
        train_run(job["cfg"], seed_dir / job["name"], data=data)
    test = data[1]
    records = evaluate_runs(jobs, seed_dir, test, spec, seed, progress)
    receiver = next(j["name"] for j in jobs if j["cfg"]["arch"] == "mfmsc" and len(j["cfg"]["tasks"]) > 1)
    records += evaluate_classical_links(seed_dir / receiver, test, spec, seed, progress)
    records += question_prior_records(data[0], test, spec, seed)
    fusion = fusion_check(seed_dir, jobs, test)
    saved.write_text(json.dumps({"key": key, "records": records, "fusion": fusion}) + "\n")
    print(f"experiment mfmsc: seed {seed} done in {time.time() - started:.0f} s")
    return records, fusion


def _smoothed(values: list[float], window: int = 50) -> np.ndarray:
    """Moving average over up to ``window`` steps (shorter at the start)."""
    values = np.asarray(values, float)
    sums = np.cumsum(np.insert(values, 0, 0.0))
    steps = np.arange(1, len(values) + 1)
    width = np.minimum(steps, window)
    return (sums[steps] - sums[steps - width]) / width


def plot_training_losses(runs_dir: Path, seeds: list[int], spec: dict, out_path: Path) -> Path | None:
    """Each jointly trained method's loss per task against that task's steps (moving average over 50 steps,
    one thin line per seed): whether every task converged."""
    curves = defaultdict(lambda: defaultdict(list))          # task -> method -> [loss per step] per seed
    for seed in seeds:
        for method, how in spec["methods"].items():
            history = runs_dir / f"seed{seed}" / method / "history.json"
            if not how["joint"] or not history.is_file():
                continue
            per_task = defaultdict(list)
            for step in json.loads(history.read_text()):
                per_task[step["task"]].append(step["loss"])
            for task, losses in per_task.items():
                curves[task][method].append(losses)
    if not curves:
        return None
    cols = min(4, len(curves))
    rows = -(-len(curves) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    colours = {m: f"C{i}" for i, m in enumerate(spec["methods"])}
    for ax, (task, by_method) in zip(axes.flat, curves.items()):
        for method, runs in by_method.items():
            for i, losses in enumerate(runs):
                ax.plot(_smoothed(losses), color=colours[method], lw=1, alpha=0.8, label=method if i == 0 else None)
        ax.set_title(task)
        ax.set_xlabel("task step")
        ax.set_ylabel("training loss")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(curves):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("Training loss per task of the jointly trained systems (one line per seed)")
    fig.tight_layout()
    fig.savefig(out_path, dpi=DPI)
    plt.close(fig)
    return out_path


def write_results(out_dir: Path, records: list[dict], fusion: list[dict], spec: dict) -> None:
    """Records, overhead, tables and figures of the seeds evaluated so far, replacing earlier ones."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "records.jsonl").open("w") as f:
        for r in records:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    overhead = overhead_rows(records)
    (out_dir / "overhead.json").write_text(json.dumps({"overhead": overhead, "fusion": fusion}, indent=1) + "\n")
    (out_dir / "results.md").write_text(results_markdown(records, overhead, fusion, spec))
    plot_metric_grid(records, "awgn", out_dir / "fig10_awgn.png", "Per-task metric on AWGN (Fig. 10)")
    plot_metric_grid(records, "rayleigh", out_dir / "fig11_rayleigh.png", "Multi-modal tasks on Rayleigh fading (Fig. 11)")


def run_mfmsc_experiment(spec_path: str | Path, runs_dir: str | Path, out_dir: str | Path,
                         overrides: dict | None = None, train: bool = True, progress: bool = True) -> Path:
    """Every seed of the spec in turn; the results folder is rewritten after each seed, so a long run shows
    the seeds finished so far."""
    spec = read_spec(spec_path, SPEC_KEYS)
    runs_dir, out_dir = Path(runs_dir), Path(out_dir)
    started = time.time()
    records, fusion, done = [], [], []
    for seed in spec_seeds(spec):
        seed_records, seed_fusion = run_seed(spec, seed, dict(overrides or {}), runs_dir / f"seed{seed}", train,
                                             progress)
        records += seed_records
        fusion += [dict(row, seed=seed) for row in seed_fusion]
        done.append(seed)
        write_results(out_dir, records, fusion, spec)
        plot_training_losses(runs_dir, done, spec, out_dir / "training_losses.png")
    print((out_dir / "results.md").read_text())
    print(f"experiment mfmsc: done in {time.time() - started:.0f} s; {out_dir}")
    return out_dir
