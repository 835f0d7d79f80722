"""The SemCC paper's experiments as one command: train what is missing, evaluate, write records,
tables and figures.

A spec YAML (see `configs/semcc/experiments/fmnist.yaml`) names one config per method, the shared
downstream classifiers, and the grid of each part:

* ``ratios``     accuracy and PSNR versus k/n, every method x SNR x channel (Figs. 4-11);
* ``ablation``   SemCC against its stage-1 weights (w/o FT) and against DeepSC (w/o CL) (Tables I-II);
* ``alpha``      the semantic/detail trade-off over the loss weight (Fig. 12);
* ``robustness`` trained at one SNR, tested across SNR with other downstream models (Figs. 13-14);
* ``visual``     reconstructions of every method at a small ratio (Fig. 15), kept in the ledger;
* ``semre``      SemRE's ablations at one point (each a config override), beside DeepJSCC there, with a
                 linear probe on the received latent (how much class information the symbols carry).

Runs live in `<runs>/<method>-<channel>-<snr>dB-r<ratio>[-a<alpha>]`; a finished run (its
`run.json`) is reused, so parts share training and an interrupted sweep resumes. Every finished run is
entered in the ledger `<out>/ledger/` (:mod:`.ledger`) and evaluated as soon as it is trained, so the
sweep also continues in a fresh checkout where `<runs>` is gone: what the ledger holds is not trained
again. Each part writes `<out>/<part>.jsonl` afresh (records), its table and `<out>/<part>.png`.
"""

from __future__ import annotations

import concurrent.futures
import copy
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml

from ..records import format_table
from ..runs.config import ConfigError, load_config, parse_ratio
from ..runs.folder import finished_run, read_run, state_to_file
from ..runs.image import split, train_classifier
from ..data import load_dataset
from .claims import stats_of
from .ledger import Ledger
from .schedule import describe, epochs_trained, sweep_budget
from .semcc_report import write_results
from .semcc_evaluation import Evaluator, robustness_digital
from .training_report import write_training_report
from .spec import read_spec
from .figures import (fraction_label, markdown_ratio_table, plot_robustness, plot_tradeoff, plot_versus_ratio,
                      ratio_table, save_reconstruction_grid)

PARTS = ("ratios", "ablation", "alpha", "robustness", "visual", "semre")
#: After the claim points, runs are trained part by part in this order: the parts that a few runs complete
#: (one figure or table each) before the grid, which fills in last.
FILL_ORDER = ("visual", "robustness", "ablation", "alpha", "ratios", "semre")
SPEC_KEYS = {"methods", "classifiers", "train_with", "eval_samples", "ratios", "snrs", "channels", "ablation",
             "alpha", "robustness", "visual", "semre_ablation", "seeds", "seeded_points", "digital_results"}


@dataclass(frozen=True)
class RunKey:
    """One training run of the sweep: the point it is trained for."""

    method: str
    ratio: float
    channel: str
    snr: float
    alpha: float | None = None
    variant: str | None = None       # a named config override (the SemRE ablation)
    seed: int | None = None          # None: the method config's own seed (the spec's first)

    @property
    def name(self) -> str:
        name = f"{self.method}-{self.channel}-{self.snr:g}dB-r{fraction_label(self.ratio).replace('/', '_')}"
        name = name if self.alpha is None else f"{name}-a{self.alpha:g}"
        name = name if self.variant is None else f"{name}-{self.variant}"
        return name if self.seed is None else f"{name}-seed{self.seed}"


# --- the spec ----------------------------------------------------------------------------------------
def load_spec(path: str | Path) -> dict:
    spec = read_spec(path, SPEC_KEYS)
    if spec.get("train_with") not in spec.get("classifiers", {}):
        raise ConfigError(f"experiment spec {path}: train_with must name one of its classifiers")
    spec["ratios"] = [parse_ratio(r) for r in spec["ratios"]]
    spec["ablation"]["ratios"] = [parse_ratio(r) for r in spec["ablation"]["ratios"]]
    spec["alpha"]["ratio"] = parse_ratio(spec["alpha"]["ratio"])
    spec["visual"]["ratio"] = parse_ratio(spec["visual"]["ratio"])
    if "semre_ablation" in spec:
        spec["semre_ablation"]["ratio"] = parse_ratio(spec["semre_ablation"]["ratio"])
    for case in spec["robustness"]["cases"]:
        case["ratio"] = parse_ratio(case["ratio"])
        if case["classifier"] not in spec["classifiers"]:
            raise ConfigError(f"robustness case names classifier {case['classifier']!r}, not in classifiers")
    spec["seeds"] = [int(s) for s in spec.get("seeds", [0])]
    for point in spec.get("seeded_points", []):
        point["ratios"] = [parse_ratio(r) for r in point["ratios"]]
        unknown = set(point.get("methods", [])) - set(spec["methods"])
        if unknown:
            raise ConfigError(f"seeded_points names methods the spec does not train: {', '.join(sorted(unknown))}")
    return spec


def extra_seeds(spec: dict, key: RunKey) -> list[RunKey]:
    """The same run on the spec's other seeds, when its point is one the claims rest on (``seeded_points``:
    channel, training SNR, ratios and the methods compared there, every method when none are named)."""
    for point in spec.get("seeded_points", []):
        if (key.channel == point["channel"] and key.snr == float(point["snr"]) and key.alpha is None
                and key.variant is None and any(abs(key.ratio - r) < 1e-9 for r in point["ratios"])
                and key.method in point.get("methods", spec["methods"])):
            return [RunKey(key.method, key.ratio, key.channel, key.snr, seed=s) for s in spec["seeds"][1:]]
    return []


def keys_for(spec: dict, part: str) -> list[RunKey]:
    if part == "ratios":
        keys = [RunKey(m, r, c, float(s)) for c in spec["channels"] for s in spec["snrs"] for m in spec["methods"]
                for r in spec["ratios"]]
        return keys + [extra for key in keys for extra in extra_seeds(spec, key)]
    if part == "ablation":
        a = spec["ablation"]
        keys = [RunKey(m, r, c, float(a["snr"])) for c in a["channels"] for r in a["ratios"] for m in ("semcc", "deepsc")]
        return keys + [extra for key in keys for extra in extra_seeds(spec, key)]
    if part == "alpha":
        a = spec["alpha"]
        return [RunKey(m, a["ratio"], a["channel"], float(a["snr"]), float(v)) for m in a["methods"] for v in a["values"]]
    if part == "robustness":
        return [RunKey(m, case["ratio"], case["channel"], float(case["train_snr"]))
                for case in spec["robustness"]["cases"] for m in spec["methods"]]
    if part == "visual":
        v = spec["visual"]
        return [RunKey(m, v["ratio"], v["channel"], float(v["snr"])) for m in spec["methods"]]
    if part == "semre":
        a = spec.get("semre_ablation")
        if not a:
            raise ConfigError("part semre needs `semre_ablation` in the spec")
        point = (a["ratio"], a["channel"], float(a["snr"]))
        return [RunKey("deepjscc", *point)] + [RunKey("semre", *point, variant=v) for v in a["variants"]]
    raise ValueError(f"unknown part {part!r}; known: {', '.join(PARTS)}")


def training_order(spec: dict, parts) -> list[RunKey]:
    """Every run the parts need, once, in the order to train them: the claim points (every seed) first,
    then part by part in FILL_ORDER, so an interrupted sweep settles the claims, then completes figures."""
    wanted = [(key, part) for part in parts for key in keys_for(spec, part)]
    wanted.sort(key=lambda kp: (not (kp[0].seed is not None or extra_seeds(spec, kp[0])), FILL_ORDER.index(kp[1])))
    return list(dict.fromkeys(key for key, _ in wanted))


# --- configs and training ----------------------------------------------------------------------------
def run_config(spec: dict, key: RunKey, classifier_ckpt: Path, overrides: dict) -> dict:
    """The method's config with the user's overrides, then the sweep point (which always wins)."""
    if key.method not in spec["methods"]:
        raise ConfigError(f"the spec has no config for method {key.method!r}")
    point = {"ratio": key.ratio, "channel": {"name": key.channel}, "train_snr_db": [key.snr, key.snr],
             "val_snr_db": key.snr, "classifier": {**spec["classifiers"][spec["train_with"]],
                                                    "checkpoint": str(classifier_ckpt)}}
    if key.alpha is not None:
        point["loss"] = {"alpha2": key.alpha} if key.method == "deepsc" else {"alpha": key.alpha, "alpha2": key.alpha}
    base, variant = {}, {}
    if key.variant is not None:     # the SemRE ablation: its base setting, then the variant's change
        base = spec["semre_ablation"].get("base") or {}
        variant = spec["semre_ablation"]["variants"][key.variant] or {}
    point["seed"] = spec["seeds"][0] if key.seed is None else key.seed
    return load_config(spec["methods"][key.method], overrides, base, variant, point)


def train_classifiers(spec: dict, names, runs_dir: Path, overrides: dict, ledger: Ledger | None = None
                      ) -> dict[str, dict]:
    """Train (or reuse) each named downstream classifier on the clean training split; the ledger keeps a
    copy, so that runs trained elsewhere later share it."""
    out = {}
    for name in names:
        weights, info_path = runs_dir / "classifiers" / f"{name}.safetensors", runs_dir / "classifiers" / f"{name}.json"
        if ledger is not None and ledger.restore_classifier(name, runs_dir):
            ledger.keep_classifier(name, runs_dir)
        if not info_path.is_file():
            cfg = load_config(next(iter(spec["methods"].values())), overrides,
                              {"classifier": spec["classifiers"][name], "dataset": {"train_size": None}})
            full, train, val = split(cfg)
            started = time.time()
            net, net_spec, metrics = train_classifier(cfg, full, train, val, runs_dir / "classifiers" / name)
            weights.parent.mkdir(parents=True, exist_ok=True)
            state_to_file(net, weights)
            info = {"name": name, "spec": net_spec, "training": cfg["classifier"],
                    "parameters": sum(p.numel() for p in net.parameters()),
                    "train_seconds": round(time.time() - started, 1), **metrics}
            info_path.write_text(json.dumps(info, indent=2) + "\n")
            print(f"experiment: classifier {name}: val accuracy {metrics['classifier_val_accuracy']:.4f}")
            if ledger is not None:
                ledger.keep_classifier(name, runs_dir)
        out[name] = {**json.loads(info_path.read_text()), "weights": weights}
    return out


def _train_one(cfg: dict, run_dir: Path, jobs: int, origin: str) -> float:
    """Train one run in a child process (logs in run_dir/train.log); returns seconds."""
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = copy.deepcopy(cfg)
    cfg["trainer"]["progress_bar"] = jobs == 1 and sys.stdout.isatty()   # no bars in a log file
    (run_dir / "config.yaml").write_text(f"# {run_dir.name}: a point of `{origin}`\n"
                                         + yaml.safe_dump(cfg, sort_keys=False))
    env = dict(os.environ, OMP_NUM_THREADS=str(max(1, (os.cpu_count() or 2) // jobs)))
    started = time.time()
    cmd = [sys.executable, "-m", "semcom_core.cli.main", "train", "--config", str(run_dir / "config.yaml"),
           "--out", str(run_dir)]
    with open(run_dir / "train.log", "a") as log:   # an interrupted run resumes: keep every attempt
        done = subprocess.run(cmd, stdout=log if jobs > 1 else None, stderr=subprocess.STDOUT if jobs > 1 else None,
                              env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"training {run_dir.name} failed (exit {done.returncode}); see {run_dir / 'train.log'}")
    return time.time() - started


def ensure_runs(configs: dict[RunKey, dict], runs_dir: Path, jobs: int = 1, train: bool = True,
                origin: str = "semcom experiment semcc", ledger: Ledger | None = None,
                on_trained=None, deadline: float | None = None) -> dict[RunKey, Path]:
    """Train the runs that are missing, `jobs` at a time; return the run folder of every finished key
    (finished in `runs_dir` or held by the ledger; the folder may then be absent).

    `configs` maps each key to its resolved config (`run_config`). Each run trained is entered in the
    ledger and handed to `on_trained(key, dirs of the runs finished so far)`. With train=False nothing is
    trained and the missing keys are left out (and listed). With a `deadline` (a time.time() value) a run
    starts only when it is expected to end before it (`schedule.Budget`); the others are left (and listed)."""
    keys = list(configs)
    dirs = {key: runs_dir / key.name for key in keys}
    ignore = ("classifier",)

    def finished(key: RunKey) -> bool:
        if finished_run(dirs[key], configs[key], ignore=ignore):
            if ledger is not None:
                ledger.add_run(key.name, dirs[key])
            return True
        return ledger is not None and ledger.holds(key.name, configs[key], ignore=ignore)

    missing = [key for key in keys if not finished(key)]
    if not train:
        if missing:
            print(f"experiment: {len(missing)} runs missing, their points are left out: "
                  + ", ".join(key.name for key in missing))
        return {key: d for key, d in dirs.items() if key not in missing}
    print(f"experiment: {len(keys) - len(missing)} runs reused, {len(missing)} to train ({jobs} at a time)")
    budget = sweep_budget(deadline, ledger, configs, dirs)
    started = time.time()
    pending, queue, running = set(missing), list(missing), {}
    run_seconds = []     # each finished run's training time over every attempt, resumed ones included
    done = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        while True:
            while len(running) < max(1, jobs) and (key := budget.next_run(queue)) is not None:
                queue.remove(key)
                running[pool.submit(_train_one, configs[key], dirs[key], jobs, origin)] = key
            if not running:
                break
            ended, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            future = next(iter(ended))
            key, done = running.pop(future), done + 1
            this_call, run = future.result(), read_run(dirs[key])
            run_seconds.append(float(run.get("seconds") or this_call))
            pace = sum(run_seconds) / len(run_seconds)
            print(f"experiment: [{done}/{len(missing)}] {key.name} trained in {this_call:.0f} s "
                  f"({run_seconds[-1]:.0f} s over every attempt; {time.time() - started:.0f} s elapsed in this call; "
                  f"at {pace:.0f} s a run, {max(1, jobs)} at a time, about "
                  f"{pace * (len(missing) - done) / max(1, jobs) / 3600:.1f} h left)", flush=True)
            pending.discard(key)
            budget.observe(key, run)
            if ledger is not None:
                ledger.add_run(key.name, dirs[key])
            if on_trained is not None:
                on_trained(key, {k: d for k, d in dirs.items() if k not in pending})
    if queue:
        print(f"experiment: {len(queue)} runs left for a later call (none expected to finish in the "
              f"{describe(max(0.0, budget.time_left()))} left of the time budget): "
              + ", ".join(key.name for key in queue), flush=True)
    return {key: d for key, d in dirs.items() if key not in queue}


def _write_records(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))


def _ablation_table(records: list[dict]) -> str:
    """Table I: each variant's mean over seeds (± std when several), and its difference to the baseline's."""
    lines = ["| channel | k/n | metric | baseline | w/o FT | w/o CL |", "|---|---|---|---|---|---|"]
    for channel in dict.fromkeys(r["channel"] for r in records):
        for ratio in sorted({r["ratio"] for r in records if r["channel"] == channel}):
            for metric, unit in (("accuracy", "ACC (%)"), ("psnr", "PSNR (dB)")):
                scale = 100 if metric == "accuracy" else 1
                cell = {v: stats_of(records, metric, channel=channel, ratio=ratio, variant=v)
                        for v in ("baseline", "w/o FT", "w/o CL")}
                row = [channel, fraction_label(ratio), unit]
                for variant, st in cell.items():
                    if st is None:
                        row.append("-")
                        continue
                    spread = f" ± {scale * st.std:.2f}" if st.n > 1 else ""
                    base = cell["baseline"]
                    delta = "" if variant == "baseline" or base is None else f" ({scale * (st.mean - base.mean):+.2f})"
                    row.append(f"{scale * st.mean:.2f}{spread}{delta}")
                lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _semre_table(records: list[dict], ablation: dict) -> str:
    """SemRE's ablation as markdown: each variant's override, accuracy and latent-probe accuracy against the
    DeepJSCC reference's, PSNR, epochs and training time."""
    ref = next((r for r in records if r["variant"] == "reference"), None)
    delta = lambda r, m: "" if ref is None or r is ref else f" ({100 * (r[m] - ref[m]):+.2f})"  # noqa: E731
    lines = [f"# SemRE ablation: k/n {fraction_label(ablation['ratio'])}, {ablation['channel']} {ablation['snr']} dB",
             "", "Accuracy (%) of the downstream classifier on the reconstruction and of a linear probe on the "
             "received latent; in brackets the difference to the DeepJSCC reference."
             + (f" Every SemRE run is `{json.dumps(ablation['base'])}` plus its override." if ablation.get("base") else ""),
             "", "| run | override | accuracy | latent probe | PSNR (dB) | epochs | training s |", "|---|---|---|---|---|---|---|"]
    for r in records:
        override = "DeepJSCC" if r is ref else json.dumps(ablation["variants"].get(r["variant"]) or {})
        lines.append(f"| {r['method']} {r['variant']} | `{override}` | {100 * r['accuracy']:.2f}{delta(r, 'accuracy')} "
                     f"| {100 * r['latent_probe_accuracy']:.2f}{delta(r, 'latent_probe_accuracy')} | {r['psnr']:.2f} "
                     f"| {r['epochs_run']} | {r.get('train_seconds') or 0:.0f} |")
    return "\n".join(lines)


def _finished(spec: dict, part: str, dirs: dict) -> list[RunKey]:
    return [key for key in keys_for(spec, part) if key in dirs]


def _keep(records: list[dict], record: dict | None) -> None:
    if record is not None:
        records.append(record)


def run_part(part: str, spec: dict, ev: Evaluator, dirs: dict, out_dir: Path, final: bool = True) -> list[dict]:
    """Evaluate (or read from the ledger) the part's points of the finished runs ``dirs``; write its table and
    figure. ``final=False`` (while the sweep trains) prints nothing and leaves out the classical link."""
    train_with = spec["train_with"]
    records = []
    say = print if final else (lambda *args, **kw: None)
    if not any(key in dirs for key in keys_for(spec, part)):
        say(f"experiment: {part}: no finished runs")
        return records
    if part == "ratios":
        for key in _finished(spec, part, dirs):
            _keep(records, ev.point(dirs[key], key, key.snr, train_with, variant="baseline"))
        if not records:
            return records
        (out_dir / "ratios.md").write_text(markdown_ratio_table(records) + "\n")
        plot_versus_ratio(records, out_dir / "ratios.png", title=f"{ev.dataset}: accuracy and PSNR versus k/n")
        say(ratio_table(records, "accuracy"), ratio_table(records, "psnr"), sep="\n\n")
    elif part == "ablation":
        for key in _finished(spec, part, dirs):
            if key.method == "semcc":
                _keep(records, ev.point(dirs[key], key, key.snr, train_with, variant="baseline"))
                _keep(records, ev.point(dirs[key], key, key.snr, train_with, stage="pretrain", variant="w/o FT"))
            else:   # w/o CL is DeepSC (the paper says so): its own record, the ledger's when the weights are gone
                record = ev.point(dirs[key], key, key.snr, train_with)
                _keep(records, record and {**record, "method": "semcc", "variant": "w/o CL", "trained_as": "deepsc"})
        if not records:
            return records
        table = _ablation_table(records)
        (out_dir / "ablation.md").write_text(table + "\n")
        say(table)
    elif part == "alpha":
        for key in _finished(spec, part, dirs):
            _keep(records, ev.point(dirs[key], key, key.snr, train_with, alpha=key.alpha, variant="baseline"))
        if not records:
            return records
        plot_tradeoff(records, out_dir / "alpha.png",
                      title=f"{ev.dataset}: accuracy versus PSNR over alpha (k/n={fraction_label(spec['alpha']['ratio'])}, "
                            f"{spec['alpha']['channel']} {spec['alpha']['snr']} dB)")
        say(format_table(records, columns=("method", "alpha", "psnr", "ssim", "accuracy")))
    elif part == "robustness":
        for case in spec["robustness"]["cases"]:
            for key in _finished({**spec, "robustness": {**spec["robustness"], "cases": [case]}}, part, dirs):
                for snr in spec["robustness"]["test_snrs"]:
                    for classifier in (train_with, case["classifier"]):
                        _keep(records, ev.point(dirs[key], key, float(snr), classifier, variant="baseline"))
        if not records:
            return records
        if final:
            records += robustness_digital(spec, ev, records)
        plot_robustness([r for r in records if r["classifier"] != train_with], out_dir / "robustness.png",
                        title=f"{ev.dataset}: trained at one SNR, tested across SNR with other downstream models")
        say(format_table(records, columns=("method", "channel", "ratio", "classifier", "snr_db", "psnr", "accuracy")))
    elif part == "visual":
        v = spec["visual"]
        first_of_class = [int((ev.labels == c).nonzero()[0]) for c in range(min(v["images"], 10))]
        originals = ev.images[first_of_class]
        rows = {}
        for key in _finished(spec, part, dirs):     # from the weights once, then from the ledger
            images = ev.reconstructions(dirs[key], key, first_of_class)
            if images is not None:
                rows[key.method] = images
        if rows and final:
            save_reconstruction_grid(originals.cpu(), rows, out_dir / "visual.png",
                                     title=f"{ev.dataset}, k/n={fraction_label(v['ratio'])}, {v['channel']} {v['snr']} dB")
            say(f"experiment: visual: figure {out_dir / 'visual.png'} ({', '.join(rows)})")
    elif part == "semre":
        a = spec["semre_ablation"]
        train = load_dataset(ev.dataset, "train").batch(range(int(a.get("probe_images", 5000))))
        for key in _finished(spec, part, dirs):
            run = ev.run_facts(dirs[key])
            _keep(records, ev.point(dirs[key], key, key.snr, train_with, probe=train, variant=key.variant or "reference",
                                    epochs_run=epochs_trained(run),
                                    train_seconds=run.get("seconds")))
        if not records:
            return records
        table = _semre_table(records, a)
        (out_dir / "semre.md").write_text(table + "\n")
        say(table)
    return records


def run_experiment(spec_path: str | Path, runs_dir: str | Path, out_dir: str | Path, parts=PARTS,
                   overrides: dict | None = None, jobs: int = 1, device: str | None = None,
                   train_only: bool = False, train: bool = True, command: str = "semcom experiment semcc",
                   time_budget: float | None = None) -> Path:
    """Train what the parts need and is missing, then evaluate and write every part's records, tables and
    figures. With `time_budget` (seconds from now) only the runs expected to finish in it are started."""
    deadline = None if time_budget is None else time.time() + time_budget
    spec = load_spec(spec_path)
    overrides = overrides or {}
    runs_dir, out_dir = Path(runs_dir), Path(out_dir)
    if "all" in parts:
        parts = [p for p in PARTS if p != "semre" or spec.get("semre_ablation")]
    parts = list(parts)
    keys = training_order(spec, parts)
    checkpoint = runs_dir / "classifiers" / f"{spec['train_with']}.safetensors"  # where train_classifiers puts it
    configs = {key: run_config(spec, key, checkpoint, overrides) for key in keys}  # errors first
    names = [spec["train_with"]] + ([c["classifier"] for c in spec["robustness"]["cases"]] if "robustness" in parts else [])
    ledger = Ledger(out_dir / "ledger")
    classifiers = train_classifiers(spec, list(dict.fromkeys(names)), runs_dir, overrides, ledger)
    out_dir.mkdir(parents=True, exist_ok=True)
    ev = None
    if not train_only:
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        data_cfg = configs[keys[0]]["dataset"]
        ev = Evaluator(classifiers, data_cfg["name"], int(spec.get("eval_samples", 10000)), device, ledger,
                        root=data_cfg["root"])

    def evaluate(finished: dict, final: bool) -> None:
        for part in parts:
            if final:
                print(f"\nexperiment: part {part}")
            records = run_part(part, spec, ev, finished, out_dir, final)
            if records:
                _write_records(out_dir / f"{part}.jsonl", records)
                if final:
                    print(f"experiment: {part}: {len(records)} records in {out_dir / (part + '.jsonl')}")
            if final and records and (out_dir / f"{part}.png").is_file():    # drawn now, not left from before
                print(f"experiment: {part}: figure {out_dir / (part + '.png')}")

    # each run is evaluated as soon as it is trained: its records reach the ledger before the next one ends
    dirs = ensure_runs(configs, runs_dir, jobs, train, command, ledger,
                       on_trained=None if ev is None else lambda _key, finished: evaluate(finished, final=False),
                       deadline=deadline)
    if train_only:
        return out_dir
    evaluate(dirs, final=True)
    held = {name: entry for name, entry in ledger.runs().items() if name in {key.name for key in dirs}}
    write_training_report(held, out_dir, "SemCC experiment")
    if (out_dir / "ratios.jsonl").is_file():
        results = write_results(out_dir, spec.get("digital_results"))
        print(f"experiment: the paper's claims and every part's table in {results}")
    return out_dir
