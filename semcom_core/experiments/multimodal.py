"""`semcom experiment multimodal`: pre-training methods compared by fine-tuning rounds (Zhao et al., Fig. 4-5).

The spec (``configs/multimodal/rgbd/experiment.yaml``) names a base config, the pre-training methods, the SNRs,
the label fractions, the single-modality references, the target accuracies of the rounds table and the seeds.
Per seed, the experiment pre-trains every method once (pre-training sends nothing, so it does not depend on
the SNR) and checks it with a linear probe against random encoders; then it fine-tunes each pre-trained
system and a randomly initialised one ("supervised") at every SNR and label fraction, plus every modality
alone (supervised, all labels). A seed changes the generated data, the initialisation and the batches.

Runs live in ``<runs>/seed<S>/``; a run whose folder holds the same config is reused, so an interrupted
experiment resumes run by run. Records (one per evaluated round), the probe records, `results.md` (mean and
spread over seeds, rounds to each target, the paper's claims checked) and the figures (mean curves with a
band of one standard deviation; pre-training loss) are rewritten from all finished runs each time.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .. import __version__  # noqa: E402
from ..runs.config import load_config  # noqa: E402
from ..runs.folder import finished_run  # noqa: E402
from ..runs.multimodal import finetune_run, pretrain_run, probe_pretrained  # noqa: E402
from .figures import DPI  # noqa: E402
from .spec import read_spec, spec_seeds  # noqa: E402

SPEC_KEYS = {"base", "pretrain", "snrs", "label_fractions", "single_modality", "targets", "seed", "seeds"}
SUPERVISED = "supervised"
LABELS = {"proposed": "Proposed", "simclr": "SimCLR", "barlow_twins": "Barlow Twins", SUPERVISED: "Supervised"}


def _pct(fraction: float) -> int:
    return round(100 * float(fraction))


def plan_runs(spec: dict, overrides: dict) -> tuple[dict, list[dict]]:
    """(pre-training configs by (seed, method), fine-tuning jobs) of the spec; names are seed/run."""
    pretrain, jobs = {}, []
    for seed in spec_seeds(spec):
        base = [spec["base"], overrides, {"seed": seed}]
        for m in spec["pretrain"]:
            pretrain[(seed, m)] = load_config(*base, {"pretrain": {"method": m}}, family="multimodal")
        for fraction in spec["label_fractions"]:
            for snr in spec["snrs"]:
                for method in [*spec["pretrain"], SUPERVISED]:
                    cfg = load_config(*base, {"finetune": {"snr_db": float(snr), "label_fraction": float(fraction)}},
                                      family="multimodal")
                    if method != SUPERVISED:
                        cfg["pretrain"] = pretrain[(seed, method)]["pretrain"]
                    jobs.append({"name": f"seed{seed}/ft-{method}-snr{snr:g}-labels{_pct(fraction)}",
                                 "method": method, "seed": seed, "modalities": cfg["modalities"], "cfg": cfg})
        for modality in spec.get("single_modality") or []:
            for snr in spec["snrs"]:
                cfg = load_config(*base, {"modalities": [modality], "finetune": {"snr_db": float(snr)}},
                                  family="multimodal")
                jobs.append({"name": f"seed{seed}/ft-{SUPERVISED}-{modality}-snr{snr:g}-labels100",
                             "method": SUPERVISED, "seed": seed, "modalities": [modality], "cfg": cfg})
    return pretrain, jobs


def _pretrain_dir(runs_dir: Path, seed: int, method: str) -> Path:
    return runs_dir / f"seed{seed}" / f"pretrain-{method}"


def run_multimodal_experiment(spec_path: str | Path, runs_dir: str | Path, out_dir: str | Path,
                              overrides: dict | None = None, train: bool = True) -> Path:
    spec = read_spec(spec_path, SPEC_KEYS)
    overrides = dict(overrides or {})
    runs_dir, out_dir = Path(runs_dir), Path(out_dir)
    pretrain, jobs = plan_runs(spec, overrides)
    todo = [key for key, cfg in pretrain.items() if not finished_run(_pretrain_dir(runs_dir, *key), cfg, stage="pretrain")]
    todo_ft = [j for j in jobs if not finished_run(runs_dir / j["name"], j["cfg"], stage="finetune")]
    print(f"experiment: {len(pretrain) - len(todo)} pre-training and {len(jobs) - len(todo_ft)} fine-tuning runs "
          f"reused; {len(todo)} and {len(todo_ft)} to train" + ("" if train else " (not training)"))
    if train:
        started = time.time()
        for n, key in enumerate(todo, 1):
            pretrain_run(pretrain[key], _pretrain_dir(runs_dir, *key))
            print(f"experiment: pre-training {n}/{len(todo)} done ({time.time() - started:.0f} s elapsed)", flush=True)
        for key, cfg in pretrain.items():
            folder = _pretrain_dir(runs_dir, *key)
            if (folder / "encoders.safetensors").is_file() and not _probe_current(folder):
                result = probe_pretrained(cfg, folder)
                print(f"experiment: linear probe of {key[1]} (seed {key[0]}): " + ", ".join(
                    f"{m} {v['pretrained']:.3f} (random {v['random']:.3f})" for m, v in result["probe"].items()))
        for n, job in enumerate(todo_ft, 1):
            source = None if job["method"] == SUPERVISED else _pretrain_dir(runs_dir, job["seed"], job["method"])
            finetune_run(job["cfg"], runs_dir / job["name"], pretrained=source, method=job["method"])
            print(f"experiment: fine-tuning {n}/{len(todo_ft)} done ({time.time() - started:.0f} s elapsed)", flush=True)
    records = collect_records(runs_dir, jobs)
    probes = collect_probes(runs_dir, pretrain)
    losses = collect_losses(runs_dir, pretrain)
    return write_results(records, probes, losses, spec, out_dir)


def _probe_current(folder: Path) -> bool:
    """A probe.json newer than the encoders it probed."""
    probe, weights = folder / "probe.json", folder / "encoders.safetensors"
    return probe.is_file() and probe.stat().st_mtime >= weights.stat().st_mtime


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


def collect_probes(runs_dir: Path, pretrain: dict) -> list[dict]:
    """One record per pre-trained method, seed and modality group: probe accuracy, pre-trained and random."""
    records = []
    for seed, method in pretrain:
        path = _pretrain_dir(runs_dir, seed, method) / "probe.json"
        if not path.is_file():
            continue
        probe = json.loads(path.read_text())
        for modalities, acc in probe["probe"].items():
            records.append({"record": "linear_probe", "method": method, "seed": seed, "modalities": modalities,
                            "dataset": probe["dataset"], "pretrained_accuracy": acc["pretrained"],
                            "random_accuracy": acc["random"], "train_samples": probe["train_samples"],
                            "test_samples": probe["test_samples"], "code_version": __version__,
                            "source": "semcom experiment multimodal"})
    return records


def collect_losses(runs_dir: Path, pretrain: dict) -> dict[str, list[list[float]]]:
    """Pre-training loss per step, per method: one list per seed."""
    out: dict[str, list] = {}
    for seed, method in pretrain:
        path = _pretrain_dir(runs_dir, seed, method) / "run.json"
        if path.is_file():
            out.setdefault(method, []).append(json.loads(path.read_text()).get("losses") or [])
    return out


# ---- statistics over seeds -------------------------------------------------------------------------------
def curves(records: list[dict]) -> dict[tuple, dict[int, list[tuple[int, float]]]]:
    """(method, modalities, snr, label fraction) -> {seed: [(round, accuracy)] sorted by round}."""
    out: dict[tuple, dict] = {}
    for r in records:
        key = (r["method"], r["modalities"], float(r["snr_db"]), float(r["label_fraction"]))
        out.setdefault(key, {}).setdefault(r.get("seed", 0), []).append((r["round"], r["accuracy"]))
    return {key: {seed: sorted(points) for seed, points in seeds.items()} for key, seeds in out.items()}


def mean_curve(per_seed: dict[int, list]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rounds, mean accuracy, standard deviation) over the seeds, on the rounds every seed evaluated."""
    common = sorted(set.intersection(*(set(r for r, _ in pts) for pts in per_seed.values())))
    acc = np.array([[dict(pts)[r] for r in common] for pts in per_seed.values()])
    return np.array(common), acc.mean(0), acc.std(0)


def rounds_to(rounds: np.ndarray, accuracy: np.ndarray, target: float) -> int | None:
    """The first evaluated round whose (mean) test accuracy reaches the target (None: never)."""
    hit = np.flatnonzero(accuracy >= target)
    return int(rounds[hit[0]]) if len(hit) else None


def summary(per_seed: dict[int, list]) -> dict:
    """Final accuracy and accuracy averaged over all evaluated rounds (the area under the curve), as mean and
    standard deviation over seeds."""
    final = np.array([pts[-1][1] for pts in per_seed.values()])
    area = np.array([np.mean([a for _, a in pts]) for pts in per_seed.values()])
    return {"seeds": len(per_seed), "final": final.mean(), "final_std": final.std(), "area": area.mean(),
            "area_std": area.std()}


def _pm(mean: float, std: float) -> str:
    return f"{mean:.3f} ± {std:.3f}"


def _rounds_text(rounds: int | None) -> str:
    return "never" if rounds is None else str(rounds)


# ---- outputs ---------------------------------------------------------------------------------------------
def write_results(records: list[dict], probes: list[dict], losses: dict, spec: dict, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "records.jsonl").open("w") as f:
        f.writelines(json.dumps(r, sort_keys=True) + "\n" for r in records)
    with (out_dir / "probe.jsonl").open("w") as f:
        f.writelines(json.dumps(r, sort_keys=True) + "\n" for r in probes)
    data = curves(records)
    figures = [plot_curves(data, spec, fraction, out_dir) for fraction in spec["label_fractions"]]
    if any(any(seq) for seq in losses.values()):
        figures.append(plot_losses(losses, out_dir))
    text = results_markdown(data, probes, spec, figures)
    (out_dir / "results.md").write_text(text)
    print(text)
    return out_dir


def load_mm_modalities(spec: dict) -> list[str]:
    return load_config(spec["base"], family="multimodal")["modalities"]


def results_markdown(data: dict, probes: list[dict], spec: dict, figures: list[Path]) -> str:
    targets = [float(t) for t in spec["targets"]]
    methods = [*spec["pretrain"], SUPERVISED]
    mods = "+".join(load_mm_modalities(spec))
    seeds = sorted({s for per_seed in data.values() for s in per_seed})
    lines = ["# Multi-modal self-supervised semantic communication: rounds to accuracy", "",
             "Made by `semcom experiment multimodal` from the runs' records (`records.jsonl`, `probe.jsonl`). "
             "A round is one forward pass of every device's features to the server and one backward pass of "
             f"gradients. Seeds: {', '.join(map(str, seeds))}; a value is the mean ± standard deviation over them. "
             "Rounds to a target are read from the mean curve. *Mean over rounds* averages the test accuracy "
             "over every evaluation from round 0 (the area under the curve): higher means faster and better.",
             ""]
    for fraction in spec["label_fractions"]:
        lines += [f"## {_pct(fraction)} % labels", "",
                  "| SNR dB | method | " + " | ".join(f"rounds to {t:.0%}" for t in targets)
                  + " | final accuracy | mean over rounds | seeds |", "|" + " --- |" * (len(targets) + 5)]
        for snr in spec["snrs"]:
            rows = [(m, mods, m) for m in methods]
            rows += [(SUPERVISED, mod, f"{mod} alone") for mod in (spec.get("single_modality") or [])
                     if fraction == 1.0]
            for method, modalities, label in rows:
                per_seed = data.get((method, modalities, float(snr), float(fraction)))
                if not per_seed:
                    continue
                rounds, mean, _ = mean_curve(per_seed)
                s = summary(per_seed)
                cells = [_rounds_text(rounds_to(rounds, mean, t)) for t in targets]
                lines.append(f"| {snr:g} | {LABELS.get(label, label)} | " + " | ".join(cells)
                             + f" | {_pm(s['final'], s['final_std'])} | {_pm(s['area'], s['area_std'])} | {s['seeds']} |")
        lines.append("")
    if probes:
        lines += probe_markdown(probes)
    lines += ["## The paper's claims, checked", "", "| claim | paper | ours | holds |", "|---|---|---|---|",
              *claim_rows(data, probes, spec, targets), ""]
    lines += [f"![{f.stem}]({f.name})" for f in figures]
    return "\n".join(lines) + "\n"


def probe_markdown(probes: list[dict]) -> list[str]:
    groups: dict[tuple, list] = {}
    for r in probes:
        groups.setdefault((r["method"], r["modalities"]), []).append(r)
    lines = ["## Linear probe of the pre-trained encoders", "",
             "Logistic regression on the frozen K-dim features (train split fits, test split scores), against "
             "the same probe on the random encoders training starts from.", "",
             "| method | features | pre-trained | random | gain | seeds |", "|---|---|---|---|---|---|"]
    for (method, modalities), rows in groups.items():
        pre = np.array([r["pretrained_accuracy"] for r in rows])
        rnd = np.array([r["random_accuracy"] for r in rows])
        lines.append(f"| {LABELS.get(method, method)} | {modalities} | {_pm(pre.mean(), pre.std())} | "
                     f"{_pm(rnd.mean(), rnd.std())} | {(pre - rnd).mean():+.3f} | {len(rows)} |")
    return lines + [""]


def _verdict(ok: bool) -> str:
    return "holds" if ok else "does not hold"


def claim_rows(data: dict, probes: list[dict], spec: dict, targets: list[float]) -> list[str]:
    """The paper's claims (Sec. IV, Fig. 4-5), each measured on the multi-modal runs."""
    mods = "+".join(load_mm_modalities(spec))
    target = targets[len(targets) // 2]
    rows = []

    def get(method, snr, fraction):
        per_seed = data.get((method, mods, float(snr), float(fraction)))
        return per_seed if per_seed else None

    for fraction, figure in ((1.0, "Fig. 4"), (0.5, "Fig. 5")):
        if fraction not in [float(f) for f in spec["label_fractions"]] or "proposed" not in spec["pretrain"]:
            continue
        faster, above, parts_fast, parts_above = [], [], [], []
        for snr in spec["snrs"]:
            p, s = get("proposed", snr, fraction), get(SUPERVISED, snr, fraction)
            if not p or not s:
                continue
            rp, mp, _ = mean_curve(p)
            rs, ms, _ = mean_curve(s)
            a, b = rounds_to(rp, mp, target), rounds_to(rs, ms, target)
            faster.append(a is not None and (b is None or a < b))
            parts_fast.append(f"{snr:g} dB: {_rounds_text(a)} vs {_rounds_text(b)}")
            sp, ss = summary(p), summary(s)
            above.append(sp["area"] - sp["area_std"] > ss["area"] + ss["area_std"])
            parts_above.append(f"{snr:g} dB: {_pm(sp['area'], sp['area_std'])} vs {_pm(ss['area'], ss['area_std'])}")
        if faster:
            rows.append(f"| Proposed reaches {target:.0%} in fewer rounds than supervised, {_pct(fraction)} % labels "
                        f"| {figure} | {'; '.join(parts_fast)} | {_verdict(all(faster))} |")
            rows.append(f"| Proposed more accurate than supervised through training (mean over rounds, beyond one "
                        f"std), {_pct(fraction)} % labels | {figure} | {'; '.join(parts_above)} | "
                        f"{_verdict(all(above))} |")
    for other in [m for m in spec["pretrain"] if m != "proposed"]:
        wins, parts = [], []
        for fraction in spec["label_fractions"]:
            for snr in spec["snrs"]:
                p, o = get("proposed", snr, fraction), get(other, snr, fraction)
                if p and o:
                    sp, so = summary(p), summary(o)
                    wins.append(sp["area"] >= so["area"])
                    parts.append(f"{sp['area'] - so['area']:+.3f}")
        if wins:
            rows.append(f"| Proposed (multi-modal) beats single-modal {LABELS[other]} (mean over rounds, every SNR and "
                        f"label fraction) | Fig. 4-5 | differences {', '.join(parts)} | {_verdict(all(wins))} |")
    if probes:
        by_method: dict[str, list] = {}
        for r in probes:
            if "+" not in r["modalities"]:
                by_method.setdefault(r["method"], []).append(r["pretrained_accuracy"] - r["random_accuracy"])
        for method, gains in by_method.items():
            rows.append(f"| Pre-training ({LABELS.get(method, method)}) learns task-relevant features: a linear probe "
                        f"per modality beats random encoders | Sec. III | smallest gain {min(gains):+.3f} over "
                        f"{len(gains)} probes | {_verdict(min(gains) > 0)} |")
    return rows


def plot_curves(data: dict, spec: dict, fraction: float, out_dir: Path) -> Path:
    snrs = spec["snrs"]
    mods = "+".join(load_mm_modalities(spec))
    fig, axes = plt.subplots(1, len(snrs), figsize=(4.2 * len(snrs), 3.6), sharey=True, squeeze=False)
    for ax, snr in zip(axes[0], snrs):
        series = [(LABELS[m], data.get((m, mods, float(snr), float(fraction))), "-") for m in
                  [*spec["pretrain"], SUPERVISED]]
        if fraction == 1.0:
            series += [(f"{mod} alone", data.get((SUPERVISED, mod, float(snr), 1.0)), "--")
                       for mod in spec.get("single_modality") or []]
        for label, per_seed, style in series:
            if not per_seed:
                continue
            rounds, mean, std = mean_curve(per_seed)
            line, = ax.plot(rounds, mean, ls=style, lw=1 if style == "--" else 1.5, label=label)
            if len(per_seed) > 1:
                ax.fill_between(rounds, mean - std, mean + std, color=line.get_color(), alpha=0.15, lw=0)
        ax.set_title(f"AWGN {snr:g} dB, {_pct(fraction)} % labels")
        ax.set_xlabel("communication rounds")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (mean, band: ±1 std over seeds)")
    axes[0][-1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path = out_dir / f"accuracy_vs_rounds_labels{_pct(fraction)}.png"
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def plot_losses(losses: dict[str, list[list[float]]], out_dir: Path) -> Path:
    """Pre-training loss against step (mean over seeds, band ±1 std), one panel per method: the losses differ
    in scale, and each panel shows whether its method converged."""
    fig, axes = plt.subplots(1, len(losses), figsize=(4.2 * len(losses), 3.3), squeeze=False)
    for ax, (method, runs) in zip(axes[0], losses.items()):
        steps = min(len(r) for r in runs)
        if steps == 0:
            continue
        values = np.array([r[:steps] for r in runs])
        mean, std = values.mean(0), values.std(0)
        ax.plot(np.arange(1, steps + 1), mean, lw=1)
        ax.fill_between(np.arange(1, steps + 1), mean - std, mean + std, alpha=0.2, lw=0)
        ax.set_title(f"{LABELS.get(method, method)} pre-training ({len(runs)} seeds)")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("loss")
    fig.tight_layout()
    path = out_dir / "pretrain_loss.png"
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path
