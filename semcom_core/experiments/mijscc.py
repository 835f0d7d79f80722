"""`semcom experiment mijscc`: the MIJSCC paper's experiments on one dataset (Figs. 5-13, Tables III-IV).

One spec (``configs/mijscc/fmnist/experiment.yaml``) names the base MIJSCC and A-MIJSCC configs and the
variants to train from them (each a config override): the loss weight lam (Fig. 5), MSE only
(= DeepJSCC-MSE on the same networks), without the local or global MI term (Fig. 9), analog / 8-bit / 4-bit
symbols (Fig. 11), Rayleigh fading with LS channel estimation (Fig. 8), and A-MIJSCC fine-tuned from the
8-bit MIJSCC at several thresholds eta, with and without attention (Fig. 12, 13, Tables III-IV).

Every trained transceiver is then frozen and evaluated on the test split over the SNR list:
PSNR and SSIM of the reconstruction, and classification from the *received latent* by a 3-layer MLP trained
with all labels (``accuracy``) and with a fraction of them (``accuracy_<pct>``), and by kNN
(``accuracy_knn``); also the downstream classifier on the reconstruction (``accuracy_recon``), the active
fraction gamma and the symbols sent per image. The digital link (BPG + LDPC + QAM, and BPG + capacity) runs
at the same k. Runs are reused when their folder holds the same config, or when the ledger
``<out>/ledger/`` (:mod:`.ledger`, kept with the results) holds the run and its records, so the sweep
continues where the run folders are gone; each run is evaluated as soon as it is trained. Records, tables
and plots are rewritten from all records each time.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from ..records import format_table, make_record
from ..runs.config import ConfigError, load_config
from ..runs.export import fit_latent_classifier
from ..runs.folder import finished_run, read_run
from ..runs.image import load_method, split
from ..data import load_dataset
from ..methods.latent_classifier import encode_all, knn_predict
from ..metrics import psnr, ssim
from .classical import best_digital_records
from .semcc import _train_one
from .claims import claims_markdown
from .ledger import Ledger
from .schedule import describe, epochs_trained, sweep_budget
from .mijscc_claims import mijscc_claims
from .spec import read_spec
from .mijscc_figures import curve_name, plot_constellation, plot_lambda_tradeoff, plot_metrics
from .training_report import write_training_report

SPEC_KEYS = {"base", "adaptive", "variants", "adaptive_variants", "snrs", "samples", "label_fractions", "knn_k",
             "probe", "cross_evaluation", "digital", "tradeoff_snr", "seed", "seeds", "seeded"}
ORIGIN = "semcom experiment mijscc"


# --- spec and runs -----------------------------------------------------------------------------------------
def load_mijscc_spec(path: str | Path) -> dict:
    spec = read_spec(path, SPEC_KEYS)
    if "mijscc" not in spec.get("variants", {}):
        raise ConfigError(f"experiment spec {path}: variants must include 'mijscc' (A-MIJSCC starts from it)")
    names = {*spec["variants"], *(spec.get("adaptive_variants") or {})}
    for case in spec.get("cross_evaluation", []):
        if not isinstance(case, dict) or case.get("variant") not in names \
                or set(case) - {"variant", "channel", "quant_bits", "label"}:
            raise ConfigError(f"experiment spec {path}: a cross_evaluation case is a variant of the spec with "
                              f"'channel', 'quant_bits' and 'label', got {case!r}")
        if not case.get("label") and "name" not in (case.get("channel") or {}):
            raise ConfigError(f"experiment spec {path}: the cross_evaluation case {case!r} keeps the training "
                              "channel, so its records need a 'label' to tell them from the run's own")
    return spec


def run_name(variant: str, seed: int, first_seed: int) -> str:
    """A run's folder name: the variant's for the first seed, ``<variant>-seed<S>`` for the others."""
    return variant if seed == first_seed else f"{variant}-seed{seed}"


def seed_plan(spec: dict) -> tuple[list[int], set[str]]:
    """(seeds, the variants trained on every seed): ``seeds`` (default: ``[seed]``) and ``seeded``, the
    variants the claims rest on (default: all); the others run on the first seed only. A seeded A-MIJSCC
    variant makes 'mijscc' seeded too (it starts from the 'mijscc' run of its seed)."""
    seeds = [int(s) for s in spec.get("seeds", [spec.get("seed", 0)])]
    names = [*spec["variants"], *(spec.get("adaptive_variants") or {})]
    seeded = set(spec.get("seeded", names))
    unknown = seeded - set(names)
    if unknown:
        raise ConfigError(f"seeded names variants the spec lacks: {', '.join(sorted(unknown))}")
    if seeded & set(spec.get("adaptive_variants") or {}):
        seeded.add("mijscc")
    return seeds, seeded


def variant_configs(spec: dict, runs_dir: Path, overrides: dict) -> dict[str, dict]:
    """run name -> resolved training config, for each variant and seed (:func:`seed_plan`). The first
    variant trains the downstream classifier, the others load it; A-MIJSCC variants start from the 'mijscc'
    run of their seed."""
    runs_dir = Path(runs_dir)
    seeds, seeded = seed_plan(spec)
    classifier = {"checkpoint": str(runs_dir / "mijscc" / "classifier.safetensors")}
    configs = {"mijscc": load_config(spec["base"], overrides, spec["variants"]["mijscc"] or {}, {"seed": seeds[0]})}
    for seed in seeds:
        for name, change in spec["variants"].items():
            if (seed == seeds[0] and name == "mijscc") or (seed != seeds[0] and name not in seeded):
                continue
            configs[run_name(name, seed, seeds[0])] = load_config(spec["base"], overrides, change or {},
                                                                  {"classifier": classifier, "seed": seed})
        for name, change in (spec.get("adaptive_variants") or {}).items():
            if seed != seeds[0] and name not in seeded:
                continue
            cfg = load_config(spec["adaptive"], overrides, change or {},
                              {"classifier": classifier, "init_from": None, "seed": seed})
            cfg["init_from"] = str(runs_dir / run_name("mijscc", seed, seeds[0]))
            configs[run_name(name, seed, seeds[0])] = cfg
    return configs


def variant_of(run: str) -> str:
    """The variant a run folder name belongs to (:func:`run_name` backwards)."""
    base, _, seed = run.rpartition("-seed")
    return base if base and seed.isdigit() else run


def _same_run(run_dir: Path, cfg: dict) -> bool:
    """True when run_dir holds a finished run of this config (classifier settings and the trainer's device
    settings aside)."""
    return finished_run(run_dir, cfg, ignore=("classifier",))


def ensure_variant_runs(configs: dict[str, dict], runs_dir: Path, jobs: int, train: bool = True,
                        ledger: Ledger | None = None, on_trained=None, deadline: float | None = None
                        ) -> dict[str, Path]:
    """Train what is missing ('mijscc' first: the others need its classifier or weights) and enter each run in
    the ledger, handing it to ``on_trained(name)``. A run the ledger holds counts as finished, unless a run to
    be trained needs its weights (the classifier of 'mijscc', A-MIJSCC's starting point): it trains again.
    With a ``deadline`` (a time.time() value) training stops at the first run not expected to end before it
    (the runs go in order: later ones may need its weights); that run and the rest are left out (and listed)."""
    dirs = {name: Path(runs_dir) / name for name in configs}

    def finished(name: str) -> bool:
        if _same_run(dirs[name], configs[name]):
            if ledger is not None:
                ledger.add_run(name, dirs[name])
            return True
        return ledger is not None and ledger.holds(name, configs[name], ignore=("classifier",))

    missing = {name for name in configs if not finished(name)}
    held = set(configs) - missing
    if train and missing:
        needed = {Path(configs[name]["init_from"]).name for name in missing if configs[name].get("init_from")}
        needed |= {"mijscc"} if missing - {"mijscc"} else set()
        missing |= {name for name in needed if not (dirs[name] / "run.json").is_file()}
    missing = [name for name in configs if name in missing]
    if not train:
        if missing:
            print(f"experiment: {len(missing)} runs missing, left out: {', '.join(missing)}")
        return {n: d for n, d in dirs.items() if n not in missing}
    print(f"experiment: {len(configs) - len(missing)} runs reused, {len(missing)} to train")
    budget = sweep_budget(deadline, ledger, configs, dirs)
    started = time.time()
    for number, name in enumerate(missing, 1):
        if not budget.fits(name):
            left = missing[number - 1:]
            print(f"experiment: {len(left)} runs left for a later call ({name} is not expected to finish in the "
                  f"{describe(max(0.0, budget.time_left()))} left of the time budget): {', '.join(left)}")
            return {n: d for n, d in dirs.items() if n not in left or n in held}   # held: the ledger's records
        seconds = _train_one(configs[name], dirs[name], jobs, ORIGIN)
        print(f"experiment: [{number}/{len(missing)}] {name} trained in {seconds:.0f} s "
              f"({time.time() - started:.0f} s elapsed)", flush=True)
        budget.observe(name, read_run(dirs[name]))
        if ledger is not None:
            ledger.add_run(name, dirs[name])
        if on_trained is not None:
            on_trained(name)
    return dirs


# --- evaluation ----------------------------------------------------------------------------------------------
class _Data:
    """Test images and labels, and each run's training images (for the latent classifiers)."""

    def __init__(self, spec: dict, cfg: dict):
        self.dataset = cfg["dataset"]["name"]
        test = load_dataset(self.dataset, "test", root=cfg["dataset"]["root"])
        self.samples = min(int(spec.get("samples", 2000)), len(test))
        self.images, self.labels = test.batch(range(self.samples))
        self.num_classes = len(test.classes)

    @staticmethod
    def train_split(cfg: dict):
        full, train, _val = split(cfg)
        return full.batch(train.indices)


@torch.no_grad()
def _decode_all(method, z_hat: torch.Tensor, batch: int = 500) -> torch.Tensor:
    return torch.cat([method.transceiver.decoder(z_hat[i:i + batch]) for i in range(0, len(z_hat), batch)])


@torch.no_grad()
def evaluate_run(name: str, run_dir: Path, data: _Data, spec: dict, channel: dict | None = None,
                 progress: bool = True, **test_change) -> list[dict]:
    """Records of one trained run at every SNR of the spec (on its own channel, or `channel`; with its own
    quantiser, or ``quant_bits=`` another q)."""
    torch.manual_seed(int(spec.get("seed", 0)))
    method, cfg = load_method(run_dir, channel, **test_change)
    probe = spec.get("probe", {})
    train_images, train_labels = data.train_split(cfg)
    z_train = encode_all(method.transceiver.encoder, train_images)
    classifiers = {float(f): fit_latent_classifier(method, cfg, z_train, train_labels, data.num_classes, float(f),
                                                   int(probe.get("epochs", 20)), int(probe.get("hidden", 256)),
                                                   int(spec.get("seed", 0)))
                   for f in spec.get("label_fractions", [1.0])}
    lo, hi = cfg["train_snr_db"]
    reference = method.receive_latent(z_train, lo + (hi - lo) * torch.rand(len(z_train)))[0]
    z_test = encode_all(method.transceiver.encoder, data.images)
    records = []
    for snr in spec["snrs"]:
        z_hat, gamma = method.receive_latent(z_test, float(snr))
        x_hat = _decode_all(method, z_hat)
        metrics = {"psnr": psnr(x_hat, data.images).mean(), "ssim": ssim(x_hat, data.images).mean(),
                   "accuracy_recon": (method.downstream(x_hat).argmax(1) == data.labels).float().mean(),
                   "accuracy_knn": (knn_predict(reference, train_labels, z_hat, int(spec.get("knn_k", 10)),
                                                data.num_classes) == data.labels).float().mean(),
                   "gamma": gamma.mean(), "symbols": gamma.mean() * method.transceiver.k}
        for fraction, mlp in classifiers.items():
            key = "accuracy" if fraction == 1.0 else f"accuracy_{round(100 * fraction)}"
            metrics[key] = (mlp(z_hat).argmax(1) == data.labels).float().mean()
        loss = cfg["loss"]
        records.append(make_record(
            cfg["method"], data.dataset, cfg["channel"]["name"], snr, cfg["ratio"], metrics, data.samples,
            cfg["seed"], source="experiment", variant=name, csi=cfg["channel"].get("csi", "perfect"),
            q=cfg["quant_bits"], lam=float(loss["lam"]), mu1=float(loss["mu1"]), mu2=float(loss["mu2"]),
            eta=float(loss["eta"]) if cfg["method"] == "a-mijscc" else None,
            attention=bool(loss["attention"]) if cfg["method"] == "a-mijscc" else None,
            train_channel=read_run(run_dir)["config"]["channel"]["name"],
            k=method.transceiver.k))
        if progress:
            r = records[-1]
            print(f"  {name:>16} {r['channel']:>8} {snr:5.1f} dB: PSNR {r['psnr']:.2f} dB, acc {r['accuracy']:.3f} "
                  f"(knn {r['accuracy_knn']:.3f}), gamma {r['gamma']:.2f}", flush=True)
    return records


def digital_records(spec: dict, data: _Data, k: int, ratio: float, classifier, progress: bool = True) -> list[dict]:
    """BPG + LDPC + QAM (best pair per point) and BPG + capacity at the same k, over the spec's SNRs."""
    d = spec["digital"]
    samples = min(int(d.get("samples", 500)), data.samples)
    return best_digital_records(data.dataset, data.images[:samples], data.labels[:samples], classifier, "resnet20",
                                lambda _ratio: k, [ratio], spec["snrs"], d.get("channels", ["awgn"]),
                                d.get("codec", "bpg"), d.get("codes", {}), int(spec.get("seed", 0)), progress)


# --- tables --------------------------------------------------------------------------------------------------
def _pivot(records: list[dict], metric: str, digits: int = 2) -> str:
    snrs = sorted({r["snr_db"] for r in records})
    rows = {}
    for r in records:
        rows.setdefault(curve_name(r), {})[r["snr_db"]] = r
    head = "| variant | " + " | ".join(f"{s:g} dB" for s in snrs) + " |"
    lines = [head, "|" + "---|" * (len(snrs) + 1)]

    def cell(r: dict | None) -> str:
        if r is None or r.get(metric) is None:
            return "-"
        spread = f" ± {r[metric + '_std']:.{digits}f}" if r.get("seeds", 1) > 1 and metric + "_std" in r else ""
        return f"{r[metric]:.{digits}f}{spread}"

    for name, vals in rows.items():
        cells = [cell(vals.get(s)) for s in snrs]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: the figures averaged over seeds (with their standard deviation beside them, ``<metric>_std``)
SEED_METRICS = ("psnr", "ssim", "accuracy", "accuracy_10", "accuracy_knn", "accuracy_recon", "gamma", "symbols")


def aggregate_seeds(records: list[dict]) -> list[dict]:
    """One record per (method, variant, channel, training channel, test change, SNR): the mean over its seeds, with
    ``<metric>_std`` (population std; 0 for one seed) and ``seeds`` (how many)."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        key = (r["method"], r.get("variant"), r["channel"], r.get("train_channel"), r.get("tested_with"), r["snr_db"])
        groups.setdefault(key, []).append(r)
    out = []
    for rs in groups.values():
        mean = dict(rs[0])
        mean["seeds"] = len({r.get("seed") for r in rs})
        for metric in SEED_METRICS:
            values = [float(r[metric]) for r in rs if r.get(metric) is not None]
            if values:
                t = torch.tensor(values, dtype=torch.float64)
                mean[metric], mean[f"{metric}_std"] = float(t.mean()), float(t.std(unbiased=False))
        out.append(mean)
    return out


def write_report(records: list[dict], out_dir: Path, spec: dict) -> Path:
    """Figures (PNG) and results.md from all records (averaged over seeds), with the claims table."""
    snrs = [float(x) for x in spec["snrs"]]
    low = min(snrs, key=lambda x: abs(x - 6.0))   # the paper's "low SNR": the bottom of its 6-21 dB training range
    claims = mijscc_claims(records, float(spec.get("tradeoff_snr", 12)), low, max(snrs))
    records = aggregate_seeds(records)
    sem = [r for r in records if r["method"] in ("mijscc", "a-mijscc")]
    digital = [r for r in records if r["method"] not in ("mijscc", "a-mijscc")]
    def by(names, channel="awgn", tested_too=False):
        return [r for r in sem if r["variant"] in names and r["channel"] == channel
                and (tested_too or not r.get("tested_with"))]

    figs = {}
    main_vs = by({"mijscc", "mse"}) + [r for r in digital if r["channel"] == "awgn"]
    figs["fig6-versus-snr.png"] = plot_metrics(main_vs, ("accuracy", "psnr", "ssim"), out_dir / "fig6-versus-snr.png",
                                               "MIJSCC against DeepJSCC-MSE and the digital link (AWGN)")
    figs["fig5-lambda.png"] = plot_lambda_tradeoff(sem, float(spec.get("tradeoff_snr", 12)), out_dir / "fig5-lambda.png")
    figs["fig8-rayleigh-ls.png"] = plot_metrics([r for r in sem if r["channel"] == "rayleigh"],
                                                ("accuracy", "psnr"), out_dir / "fig8-rayleigh-ls.png",
                                                "Rayleigh fading, LS channel estimation")
    figs["fig9-mi-terms.png"] = plot_metrics(by({"mijscc", "no-local", "no-global", "mse"}),
                                             ("accuracy", "accuracy_10", "accuracy_knn", "psnr"),
                                             out_dir / "fig9-mi-terms.png", "Removing the local or global MI term")
    figs["fig11-quantisation.png"] = plot_metrics(by({"analog", "mijscc", "4bit", "16bit"}, tested_too=True),
                                                  ("accuracy", "psnr"),
                                                  out_dir / "fig11-quantisation.png", "Analog, 4-, 8- and 16-bit symbols")
    # A-MIJSCC beside MIJSCC, and beside MIJSCC fine-tuned as long as A-MIJSCC was ('mijscc-ft')
    adaptive = by({r["variant"] for r in sem if r["method"] == "a-mijscc"} | {"mijscc", "mijscc-ft"})
    figs["fig12-gamma.png"] = plot_metrics(adaptive, ("gamma", "accuracy", "psnr"), out_dir / "fig12-gamma.png",
                                           "A-MIJSCC: active fraction and task performance")
    for r in adaptive:
        r["acc_per_gamma"] = r["accuracy"] / r["gamma"] if r["gamma"] else None
        r["psnr_per_gamma"] = r["psnr"] / r["gamma"] if r["gamma"] else None
    figs["fig13-overhead.png"] = plot_metrics(adaptive, ("acc_per_gamma", "psnr_per_gamma"),
                                              out_dir / "fig13-overhead.png", "Performance-overhead ratio (metric / gamma)")
    a_only = [r for r in adaptive if r["variant"] != "mijscc"]
    text = ["# MIJSCC / A-MIJSCC experiment", "",
            f"Made by `{ORIGIN}`; test images: {sem[0]['samples'] if sem else 0}; k = "
            f"{sem[0]['k'] if sem else '-'} symbols per image.", ""]
    for title, rs, metric, digits in (
            ("Accuracy from the received latent (MLP, all labels)", sem, "accuracy", 3),
            ("Accuracy (MLP, 10 % labels)", sem, "accuracy_10", 3),
            ("Accuracy (kNN on the received latent)", sem, "accuracy_knn", 3),
            ("Accuracy of the downstream classifier on the reconstruction", sem, "accuracy_recon", 3),
            ("PSNR (dB)", sem, "psnr", 2), ("SSIM", sem, "ssim", 3),
            ("Digital link at the same k: PSNR (dB)", digital, "psnr", 2),
            ("Digital link at the same k: accuracy", digital, "accuracy", 3),
            ("Table III: A-MIJSCC PSNR (dB), against MIJSCC fine-tuned as long", a_only, "psnr", 2),
            ("Table IV: A-MIJSCC accuracy (MLP), against MIJSCC fine-tuned as long", a_only, "accuracy", 3),
            ("A-MIJSCC gamma (mijscc-ft: MIJSCC fine-tuned as long, all symbols sent)", a_only, "gamma", 2)):
        if rs:
            text += [f"## {title}", "", _pivot(rs, metric, digits), ""]
    text += ["## The paper's claims", "", "\"Beats\": ahead by more than the larger std over seeds and the test set's "
             "resolution (for accuracy, the binomial standard error of the difference); \"close\": within "
             "1 dB of PSNR or 0.03 of accuracy.", "", claims_markdown(claims), ""]
    text += ["## Figures", ""] + [f"![{name}]({name})" for name in [*figs, "fig10-constellation.png"]]
    (out_dir / "results.md").write_text("\n".join(text) + "\n")
    return out_dir / "results.md"


def run_mijscc_experiment(spec_path, runs_dir, out_dir, overrides: dict | None = None, jobs: int = 1,
                          train: bool = True, progress: bool = True, time_budget: float | None = None) -> Path:
    deadline = None if time_budget is None else time.time() + time_budget
    spec = load_mijscc_spec(spec_path)
    runs_dir, out_dir = Path(runs_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    configs = variant_configs(spec, runs_dir, overrides or {})
    data = _Data(spec, configs["mijscc"])
    ledger = Ledger(out_dir / "ledger")
    evaluation = {key: spec.get(key) for key in ("snrs", "seed", "probe", "label_fractions", "knn_k")}

    def run_records(name: str, run_dir: Path) -> list[dict]:
        """The run's records on its own setting and on each cross-evaluation case of its variant (the
        ledger's when it holds them), with the epochs it trained."""
        cases = [{}] + [case for case in spec.get("cross_evaluation", []) if case["variant"] == variant_of(name)]
        entry = ledger.entry(name)
        epochs = epochs_trained(entry["run"]) if entry else None
        records = []
        for case in cases:
            change = {key: case[key] for key in ("channel", "quant_bits") if key in case}
            key = json.dumps({**evaluation, "channel": change.get("channel"), "samples": data.samples,
                              **({"quant_bits": case["quant_bits"]} if "quant_bits" in case else {})},
                             sort_keys=True, default=str)
            found = ledger.point(name, key, run_dir, lambda: evaluate_run(variant_of(name), run_dir, data, spec,
                                                                          progress=progress, **change))
            if found is None:
                print(f"experiment: {name}: no records {case.get('label') or 'on its own setting'} in the ledger "
                      f"and no weights in {run_dir}: left out (delete its ledger entry to train it again)")
            found = [dict(record) for record in found or []]     # annotated here, not in the ledger
            for record in found:
                record["epochs_run"] = epochs
                if case.get("label"):
                    record["tested_with"] = case["label"]
            records += found
        return records

    dirs = ensure_variant_runs(configs, runs_dir, jobs, train, ledger,
                               on_trained=lambda name: run_records(name, Path(runs_dir) / name), deadline=deadline)
    records = [record for name, run_dir in dirs.items() for record in run_records(name, run_dir)]
    four_bit = [n for n, c in configs.items() if c["quant_bits"] == 4 and n in dirs and n == variant_of(n)]
    if four_bit and (dirs[four_bit[0]] / "run.json").is_file():     # drawn from the weights only
        plot_constellation(dirs[four_bit[0]], data.images[:200], out_dir / "fig10-constellation.png")
    if spec.get("digital") and "mijscc" in dirs:
        def digital() -> list[dict]:
            method, cfg = load_method(dirs["mijscc"])
            return digital_records(spec, data, method.transceiver.k, cfg["ratio"], method.downstream.net, progress)
        key = json.dumps({"digital": spec["digital"], "snrs": spec["snrs"], "samples": data.samples,
                          "seed": spec.get("seed")}, sort_keys=True, default=str)
        records += ledger.point("mijscc", key, dirs["mijscc"], digital) or []
    path = out_dir / "mijscc.jsonl"
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    report = write_report(records, out_dir, spec)
    write_training_report({name: entry for name, entry in ledger.runs().items() if name in dirs}, out_dir,
                          "MIJSCC experiment")
    print(format_table([r for r in records if r["channel"] == "awgn"],
                       columns=("method", "variant", "snr_db", "psnr", "ssim", "accuracy", "accuracy_knn", "gamma")))
    print(f"experiment: {len(records)} records in {path}; report {report}")
    return path
