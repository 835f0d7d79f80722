"""`semcom experiment multimodal`: pre-training methods compared by fine-tuning rounds (Zhao et al., Fig. 4-5).

The spec (``configs/multimodal/rgbd/experiment.yaml``) names a base config, the pre-training methods, the SNRs,
the label fractions, the single-modality references and the target accuracies of the rounds table. The
experiment pre-trains every method once (pre-training sends nothing, so it does not depend on the SNR), then
fine-tunes each pre-trained system and a randomly initialised one ("supervised") at every SNR and label
fraction, plus every modality alone (supervised, all labels). Runs whose folder holds the same config are
reused. Records (one per evaluated round), `results.md` (final accuracy, rounds to each target accuracy) and
the figures are rewritten from all runs each time.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .. import __version__  # noqa: E402
from ..runs.config import load_config  # noqa: E402
from ..runs.folder import finished_run  # noqa: E402
from ..runs.multimodal import finetune_run, pretrain_run  # noqa: E402
from .figures import DPI  # noqa: E402
from .semcc import read_spec  # noqa: E402

SPEC_KEYS = {"base", "pretrain", "snrs", "label_fractions", "single_modality", "targets", "seed"}
SUPERVISED = "supervised"
LABELS = {"proposed": "Proposed", "simclr": "SimCLR", "barlow_twins": "Barlow Twins", SUPERVISED: "Supervised"}


def _pct(fraction: float) -> int:
    return round(100 * float(fraction))


def plan_runs(spec: dict, overrides: dict) -> tuple[dict, list[dict]]:
    """(pre-training configs by method, fine-tuning jobs) of the spec."""
    base = [spec["base"], overrides]
    pretrain = {m: load_config(*base, {"pretrain": {"method": m}}, family="multimodal") for m in spec["pretrain"]}
    jobs = []
    for fraction in spec["label_fractions"]:
        for snr in spec["snrs"]:
            for method in [*spec["pretrain"], SUPERVISED]:
                cfg = load_config(*base, {"finetune": {"snr_db": float(snr), "label_fraction": float(fraction)}}, family="multimodal")
                if method != SUPERVISED:
                    cfg["pretrain"] = pretrain[method]["pretrain"]
                jobs.append({"name": f"ft-{method}-snr{snr:g}-labels{_pct(fraction)}", "method": method,
                             "modalities": cfg["modalities"], "cfg": cfg})
    for modality in spec.get("single_modality") or []:
        for snr in spec["snrs"]:
            cfg = load_config(*base, {"modalities": [modality], "finetune": {"snr_db": float(snr)}}, family="multimodal")
            jobs.append({"name": f"ft-{SUPERVISED}-{modality}-snr{snr:g}-labels100", "method": SUPERVISED,
                         "modalities": [modality], "cfg": cfg})
    return pretrain, jobs


def run_multimodal_experiment(spec_path: str | Path, runs_dir: str | Path, out_dir: str | Path,
                              overrides: dict | None = None, train: bool = True) -> Path:
    spec = read_spec(spec_path, SPEC_KEYS)
    if overrides is None:
        overrides = {}
    if "seed" in spec:
        overrides = {**overrides, "seed": spec["seed"]}
    runs_dir, out_dir = Path(runs_dir), Path(out_dir)
    pretrain, jobs = plan_runs(spec, overrides)
    todo = [m for m, cfg in pretrain.items() if not finished_run(runs_dir / f"pretrain-{m}", cfg, stage="pretrain")]
    todo_ft = [j for j in jobs if not finished_run(runs_dir / j["name"], j["cfg"], stage="finetune")]
    print(f"experiment: {len(pretrain) - len(todo)} pre-training and {len(jobs) - len(todo_ft)} fine-tuning runs "
          f"reused; {len(todo)} and {len(todo_ft)} to train" + ("" if train else " (not training)"))
    if train:
        started = time.time()
        for n, method in enumerate(todo, 1):
            pretrain_run(pretrain[method], runs_dir / f"pretrain-{method}")
            print(f"experiment: pre-training {n}/{len(todo)} done ({time.time() - started:.0f} s elapsed)", flush=True)
        for n, job in enumerate(todo_ft, 1):
            source = None if job["method"] == SUPERVISED else runs_dir / f"pretrain-{job['method']}"
            finetune_run(job["cfg"], runs_dir / job["name"], pretrained=source, method=job["method"])
            print(f"experiment: fine-tuning {n}/{len(todo_ft)} done ({time.time() - started:.0f} s elapsed)", flush=True)
    records = collect_records(runs_dir, jobs)
    return write_results(records, spec, out_dir)


def collect_records(runs_dir: Path, jobs: list[dict]) -> list[dict]:
    """One record per evaluated round of every finished fine-tuning run."""
    records = []
    for job in jobs:
        folder = runs_dir / job["name"]
        if not (folder / "card.json").is_file():
            continue
        card = json.loads((folder / "card.json").read_text())
        for point in json.loads((folder / "history.json").read_text()):
            records.append({"method": job["method"], "modalities": "+".join(job["modalities"]),
                            "dataset": card["dataset"]["name"], "channel": card["channel"]["name"],
                            "snr_db": card["snr_db"][0], "label_fraction": card["label_fraction"],
                            "k": card["model"]["k"], "round": point["round"], "symbols": point["symbols"],
                            "accuracy": point["accuracy"], "seed": card["config"]["seed"],
                            "code_version": __version__, "source": "semcom experiment multimodal"})
    return records


def curves(records: list[dict]) -> dict[tuple, list[tuple[int, int, float]]]:
    """(method, modalities, snr, label fraction) -> [(round, symbols, accuracy)] sorted by round."""
    out: dict[tuple, list] = {}
    for r in records:
        out.setdefault((r["method"], r["modalities"], r["snr_db"], r["label_fraction"]), []).append(
            (r["round"], r["symbols"], r["accuracy"]))
    return {key: sorted(points) for key, points in out.items()}


def rounds_to(points, target: float) -> int | None:
    """The first evaluated round whose test accuracy reaches the target (None: never)."""
    return next((rnd for rnd, _sym, acc in points if acc >= target), None)


def _rounds_text(rounds: int | None) -> str:
    return "never" if rounds is None else str(rounds)


def write_results(records: list[dict], spec: dict, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "records.jsonl").open("w") as f:
        f.writelines(json.dumps(r, sort_keys=True) + "\n" for r in records)
    data = curves(records)
    figures = [plot_curves(data, spec, fraction, out_dir) for fraction in spec["label_fractions"]]
    text = results_markdown(data, spec, figures)
    (out_dir / "results.md").write_text(text)
    print(text)
    return out_dir


def _multi(data):
    return {k: v for k, v in data.items() if "+" in k[1]}


def results_markdown(data: dict, spec: dict, figures: list[Path]) -> str:
    targets = [float(t) for t in spec["targets"]]
    methods = [*spec["pretrain"], SUPERVISED]
    lines = ["# Multi-modal self-supervised semantic communication: rounds to accuracy", "",
             "Made by `semcom experiment multimodal` from the runs' records (`records.jsonl`). A round is one "
             "forward pass of every device's features to the server and one backward pass of gradients.", ""]
    for fraction in spec["label_fractions"]:
        lines += [f"## {_pct(fraction)} % labels", "",
                  "| SNR dB | method | " + " | ".join(f"rounds to {t:.0%}" for t in targets)
                  + " | final accuracy | best accuracy |", "|" + " --- |" * (len(targets) + 4)]
        for snr in spec["snrs"]:
            rows = [(m, "+".join(load_mm_modalities(spec)), m) for m in methods]
            rows += [(SUPERVISED, mod, f"{mod} alone") for mod in (spec.get("single_modality") or [])
                     if fraction == 1.0]
            for method, mods, label in rows:
                points = data.get((method, mods, float(snr), float(fraction)))
                if not points:
                    continue
                cells = [_rounds_text(rounds_to(points, t)) for t in targets]
                lines.append(f"| {snr:g} | {LABELS.get(label, label)} | " + " | ".join(cells)
                             + f" | {points[-1][2]:.3f} | {max(p[2] for p in points):.3f} |")
        lines.append("")
    lines += ["## Where the paper's ordering holds", "", *ordering_statements(data, spec, targets), ""]
    lines += [f"![{f.stem}]({f.name})" for f in figures]
    return "\n".join(lines) + "\n"


def load_mm_modalities(spec: dict) -> list[str]:
    return load_config(spec["base"], family="multimodal")["modalities"]


def ordering_statements(data: dict, spec: dict, targets: list[float]) -> list[str]:
    """Per SNR and label fraction, for the middle target: is proposed < SimCLR, Barlow Twins < supervised?"""
    target = targets[len(targets) // 2]
    mods = "+".join(load_mm_modalities(spec))
    out = []
    for fraction in spec["label_fractions"]:
        for snr in spec["snrs"]:
            r = {m: rounds_to(data.get((m, mods, float(snr), float(fraction)), []), target)
                 for m in [*spec["pretrain"], SUPERVISED]}
            if all(v is None for v in r.values()):
                continue
            key = lambda m: r[m] if r[m] is not None else float("inf")  # noqa: E731
            order = " < ".join(f"{LABELS[m]} ({_rounds_text(r[m])})" for m in sorted(r, key=key))
            proposed_first = all(key("proposed") <= key(m) for m in r) if "proposed" in r else False
            ssl_before_sup = all(key(m) <= key(SUPERVISED) for m in spec["pretrain"])
            out.append(f"- {snr:g} dB, {_pct(fraction)} % labels, rounds to {target:.0%}: {order}. "
                       f"Proposed first: {'yes' if proposed_first else 'no'}; every pre-trained method before "
                       f"supervised: {'yes' if ssl_before_sup else 'no'}.")
    return out


def plot_curves(data: dict, spec: dict, fraction: float, out_dir: Path) -> Path:
    snrs = spec["snrs"]
    mods = "+".join(load_mm_modalities(spec))
    fig, axes = plt.subplots(1, len(snrs), figsize=(4.2 * len(snrs), 3.6), sharey=True, squeeze=False)
    for ax, snr in zip(axes[0], snrs):
        for method in [*spec["pretrain"], SUPERVISED]:
            points = data.get((method, mods, float(snr), float(fraction)))
            if points:
                ax.plot([p[0] for p in points], [p[2] for p in points], label=LABELS[method])
        if fraction == 1.0:
            for mod in spec.get("single_modality") or []:
                points = data.get((SUPERVISED, mod, float(snr), 1.0))
                if points:
                    ax.plot([p[0] for p in points], [p[2] for p in points], ls="--", lw=1, label=f"{mod} alone")
        ax.set_title(f"AWGN {snr:g} dB, {_pct(fraction)} % labels")
        ax.set_xlabel("communication rounds")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy")
    axes[0][-1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path = out_dir / f"accuracy_vs_rounds_labels{_pct(fraction)}.png"
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path
