"""The `semcom` command: train, export, eval, plot, experiment, multimodal, mfmsc, bench, bundle, info.

The GNU Radio commands (``demo``, and ``bench flowgraph | mijscc-gr | ofdm | ofdm-gap | ldpc``) live with the
GNU Radio module (``gnuradio.semcom.cli``); this command line loads them when GNU Radio is there and says why
they are missing otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shlex
import sys
from pathlib import Path

import yaml

#: `semcom bench train-precision`'s modes (semcom_core.experiments.train_precision.MODES; not imported here,
#: so that the command line starts without torch)
TRAINING_MODES = ("32-true", "32-compiled", "bf16-mixed", "bf16-compiled")

DEFAULT_BUNDLE = "bundles/deepjscc-fmnist-1_12"
#: The commands ``gnuradio.semcom.cli`` adds: top-level ones and those of ``semcom bench``.
GNURADIO_COMMANDS = ("demo", "grc", "capture")
GNURADIO_BENCHMARKS = ("flowgraph", "ldpc", "mijscc-gr", "ofdm", "ofdm-gap", "rgbd")


def _command_line() -> str:
    return " ".join(shlex.quote(a) for a in ["semcom", *sys.argv[1:]])


def _overrides(pairs: list[str]) -> dict:
    """--set trainer.max_epochs=2 -> {"trainer": {"max_epochs": 2}} (values parsed as YAML)."""
    out: dict = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise SystemExit(f"--set expects KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    return out


def _folder_to_write(path: str, option: str = "--out") -> None:
    """A folder a command will write: not an existing file."""
    if Path(path).exists() and not Path(path).is_dir():
        raise ValueError(f"{option} {path} is a file, not a folder")


def _file_to_write(path: str | None, option: str = "--out") -> None:
    """A file a command will write or append to: not a folder, and its folder can be made."""
    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        raise ValueError(f"{option} {path} is a folder; give a file name, e.g. {target / 'records.jsonl'}")
    parent = next((p for p in target.parents if p.exists()), Path("."))
    if not parent.is_dir():
        raise ValueError(f"{option} {path}: {parent} is a file, not a folder")


def _whole_number(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{value} must be at least {least}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1 (a count of images, steps, jobs...)."""
    return _whole_number(text, 1)


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number >= 0 (a seed, an optional count)."""
    return _whole_number(text, 0)


def duration(text: str) -> float:
    """An argparse type: a positive duration in seconds, written as 2h30m, 90m, 1.5h or 5400."""
    from ..experiments.schedule import parse_duration

    try:
        return parse_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def cmd_train(args) -> None:
    from ..runs.config import load_config

    _folder_to_write(args.out)
    overrides = _overrides(args.set)
    if args.data_root:
        overrides = {**overrides, "dataset": {**overrides.get("dataset", {}), "root": args.data_root}}
    cfg = load_config(args.config, overrides)      # checked before anything heavy is imported
    from ..runs.image import train_run

    train_run(cfg, args.out, command=_command_line())


def cmd_export(args) -> None:
    from ..bundles import read_card
    from ..runs.export import export

    path = export(args.run, args.out, command=_command_line(), samples=args.samples, data_root=args.data_root)
    print(f"export: bundle written to {path}")
    print(json.dumps(read_card(path).get("metrics"), indent=2))


def cmd_eval(args) -> None:
    _file_to_write(args.out)
    from ..bundles import load_bundle
    from ..bundles.evaluate import evaluate_bundle
    from ..records import append_records, print_table

    bundle = load_bundle(args.bundle, method=args.method)
    records = evaluate_bundle(bundle, args.channel, args.snr, samples=args.samples, seed=args.seed,
                              data_root=args.data_root, csi=args.csi, pilots=args.pilots)
    print_table(records)
    if args.out:
        append_records(args.out, records)
        print(f"eval: {len(records)} records appended to {args.out}")


def cmd_plot(args) -> None:
    from ..experiments.plots import plot_records
    from ..records import read_records

    out = args.out or str(Path(args.records).with_suffix(".png"))
    print(f"plot: {plot_records(read_records(args.records), out)}")


EXPERIMENT_DEFAULTS = {  # paper -> (spec, runs, out)
    "semcc": ("configs/semcc/experiments/fmnist.yaml", "runs/semcc-fmnist", "results/semcc-fmnist"),
    "digital": ("configs/digital/fmnist.yaml", "runs/semcc-fmnist", "results/digital-fmnist"),
    "mijscc": ("configs/mijscc/fmnist/experiment.yaml", "runs/mijscc-fmnist", "results/mijscc-fmnist"),
    "multimodal": ("configs/multimodal/rgbd/experiment.yaml", "runs/multimodal-rgbd", "results/multimodal-rgbd"),
    "mfmsc": ("configs/mfmsc/embedded/experiment.yaml", "runs/mfmsc-embedded", "results/mfmsc-embedded"),
}


def cmd_experiment(args) -> None:
    spec, runs, out = (given or default for given, default in
                       zip((args.spec, args.runs, args.out), EXPERIMENT_DEFAULTS[args.paper]))
    if args.time_budget is not None and args.paper not in ("semcc", "mijscc"):
        raise SystemExit(f"semcom experiment {args.paper}: --time-budget applies to semcc and mijscc only")
    if args.paper == "digital":
        from ..experiments.digital import run_digital

        run_digital(spec, runs, out, overrides=_overrides(args.set))
        return
    if args.paper == "multimodal":
        from ..experiments.multimodal import run_multimodal_experiment

        run_multimodal_experiment(spec, runs, out, overrides=_overrides(args.set), train=not args.no_train)
        return
    if args.paper == "mfmsc":
        from ..experiments.mfmsc import run_mfmsc_experiment

        run_mfmsc_experiment(spec, runs, out, overrides=_overrides(args.set), train=not args.no_train)
        return
    if args.paper == "mijscc":
        from ..experiments.mijscc import run_mijscc_experiment

        run_mijscc_experiment(spec, runs, out, overrides=_overrides(args.set), jobs=args.jobs,
                              train=not args.no_train, time_budget=args.time_budget)
        return
    from ..experiments.semcc import run_experiment

    run_experiment(spec, runs, out, parts=args.part, overrides=_overrides(args.set), jobs=args.jobs,
                   device=args.device, train_only=args.train_only, train=not args.no_train,
                   command=_command_line(), time_budget=args.time_budget)


def cmd_multimodal(args) -> None:
    from ..runs.config import load_config

    if args.action != "eval":
        if not args.config or not args.out:
            raise SystemExit(f"semcom multimodal {args.action}: --config and --out are required")
        _folder_to_write(args.out)
        cfg = load_config(args.config, _overrides(args.set), family="multimodal")
    from ..bundles.multimodal import check_bundle_data, load_multimodal_bundle
    from ..runs import multimodal as mm

    if args.action == "eval":
        system, card = load_multimodal_bundle(args.bundle)
        cfg = load_config(None, {k: v for k, v in card["config"].items() if k != "trainer"},
                          {"dataset": {"root": args.data_root}} if args.data_root else None, family="multimodal")
        data = mm.load_data(cfg, "test", modalities=args.modalities)
        check_bundle_data(card, data)
        for snr in args.snr:
            accuracy = mm.evaluate_system(system, data, snr, card["augment"], seed=args.seed)
            print(f"multimodal eval: {card['method']} ({', '.join(card['modalities'])}) at {snr:g} dB: "
                  f"accuracy {accuracy:.4f} on {len(data)} test samples")
        return
    if args.action == "pretrain":
        mm.pretrain_run(cfg, args.out)
    else:
        mm.finetune_run(cfg, args.out, pretrained=args.pretrained)


def cmd_mfmsc(args) -> None:
    from ..runs.config import load_config

    if args.action != "eval":
        if not args.config or not args.out:
            raise SystemExit("semcom mfmsc train: --config and --out are required")
        _folder_to_write(args.out)
        cfg = load_config(args.config, _overrides(args.set), family="mfmsc")
    from ..bundles.mfmsc import load_mfmsc_bundle
    from ..data.mfmsc.tasks import build_tasks
    from ..runs import mfmsc as mt

    if args.action == "eval":
        system, card, tokenizer = load_mfmsc_bundle(args.bundle)
        cfg = load_config(None, {k: v for k, v in card["config"].items() if k != "trainer"},
                          {"tasks": args.tasks} if args.tasks else None, family="mfmsc")
        missing = [t for t in cfg["tasks"] if t not in system.tasks]
        if missing:
            raise SystemExit(f"semcom mfmsc eval: the bundle does not serve {', '.join(missing)} "
                             f"(it serves {', '.join(system.tasks)})")
        _, test, _ = build_tasks(cfg, splits=("test",), tokenizer=tokenizer)
        for name, data in test.items():
            for snr in args.snr:
                result = mt.evaluate_task(system, data, args.channel, snr, seed=args.seed)
                metric = next(k for k in result if k not in ("symbols_per_instance", "samples"))
                print(f"mfmsc eval: {card['method']} {name} {args.channel} {snr:g} dB: {metric} {result[metric]:.4f}, "
                      f"{result['symbols_per_instance']:.0f} symbols per instance, {result['samples']} instances")
        return
    mt.train_run(cfg, args.out)


def cmd_bench_train_step(args) -> None:
    from ..experiments.bench import bench_train_step
    from ..records import format_table

    results = bench_train_step(ratio=args.ratio, batch_size=args.batch_size, steps=args.steps, device=args.device,
                               precision=args.precision, compile=args.compile)
    print(format_table(results, columns=("method", "stage", "k", "batch_size", "ms_per_step", "images_per_s",
                                         "relative_to_deepjscc", "device", "precision", "compile", "threads")))


def cmd_bench_train_precision(args) -> None:
    from ..experiments.train_precision import check_train_precision

    rows = check_train_precision(args.methods, args.runs, args.out, train_size=args.train_size, epochs=args.epochs,
                                 finetune_epochs=args.finetune_epochs, classifier=args.classifier,
                                 samples=args.samples, reference=args.reference, candidate=args.candidate)
    print((Path(args.out) / "results.md").read_text())
    print(f"bench train-precision: {args.candidate} holds for {sum(r['holds'] for r in rows)} of {len(rows)} methods")


def cmd_bench_ota(args) -> None:
    from ..experiments.ota import format_delivery, ota_delivery

    records = ota_delivery(args.bundle, snrs=args.snr_db, channels=args.channels, cfo=args.cfo, burst=args.burst,
                           images=args.images, out_dir=args.out)
    print(format_delivery(records))
    print(f"records, table and plot in {args.out}")


def cmd_bundle(args) -> None:
    from ..bundles.format import sign_bundle, upgrade_bundle

    for path in args.bundles:
        if args.action == "calibrate":
            from ..bundles.calibrate import calibrate_bundle

            powers = calibrate_bundle(path)
            print(f"bundle {path}: raw power of its quantised symbols recorded per bit width and symbol "
                  "(mean shown): " + ", ".join(f"{q} bits {sum(p) / len(p):.3f}" for q, p in powers.items()))
            continue
        if args.action == "sign":
            digests = sign_bundle(path)
            print(f"bundle {path}: SHA-256 of {', '.join(sorted(digests))} recorded in its card")
            continue
        changed = upgrade_bundle(path)
        print(f"bundle {path}: {'rewritten in the current format' if changed else 'already in the current format'}")


def cmd_info(args) -> None:
    from ..bundles import read_card

    print(json.dumps(read_card(args.bundle), indent=2))


class _OneLineParser(argparse.ArgumentParser):
    """Command-line mistakes are one line (and ``semcom CMD --help`` shows the usage), exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="semcom", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a method from a YAML config")
    p.add_argument("--config", required=True)
    p.add_argument("--out", required=True, help="run folder to write")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value")
    p.add_argument("--data-root", default=None, help="dataset folder (the same as --set dataset.root=DIR)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("export", help="turn a finished run folder (any family) into a bundle")
    p.add_argument("--run", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--samples", type=positive_int, default=2000, help="test images for the card's metrics")
    p.add_argument("--data-root", default=None, help="dataset folder, if not where the run read it")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("eval", help="evaluate a bundle over a channel and SNRs")
    p.add_argument("--bundle", default=DEFAULT_BUNDLE)
    p.add_argument("--channel", default="awgn")
    p.add_argument("--snr", type=float, nargs="+", default=[0, 5, 10, 15, 20])
    p.add_argument("--method", default=None, help="refuse a bundle made by another method (e.g. semcc)")
    p.add_argument("--csi", default="perfect", choices=["perfect", "ls"])
    p.add_argument("--pilots", type=positive_int, default=4)
    p.add_argument("--samples", type=positive_int, default=2000)
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--data-root", default=None, help="dataset folder (default: the one in the bundle's card)")
    p.add_argument("--out", default=None, help="JSON-lines file to append records to")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("plot", help="plot PSNR and accuracy against SNR from records")
    p.add_argument("records")
    p.add_argument("--out", default=None)
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("experiment", help="a paper's experiments: train what is missing, evaluate, tables, plots")
    p.add_argument("paper", choices=list(EXPERIMENT_DEFAULTS),
                   help="semcc: the SemCC paper's figures; digital: the classical links beside them; "
                        "mijscc: the MIJSCC paper's figures and tables (with A-MIJSCC); "
                        "multimodal: accuracy against communication rounds of the pre-training methods; "
                        "mfmsc: multi-task metrics against SNR, overhead table (MFMSC and its comparisons)")
    p.add_argument("--spec", default=None, help="experiment spec (default: the paper's Fashion-MNIST spec)")
    p.add_argument("--runs", default=None, help="folder of training runs and classifiers (reused when present)")
    p.add_argument("--out", default=None, help="folder for records, tables and figures")
    p.add_argument("--part", nargs="+", default=["all"],
                   choices=["all", "ratios", "ablation", "alpha", "robustness", "visual", "semre"])
    p.add_argument("--jobs", type=positive_int, default=1, help="training runs at a time (child processes)")
    p.add_argument("--device", default=None, help="evaluation device (default: cuda if available)")
    p.add_argument("--train-only", action="store_true", help="train what is missing, evaluate nothing")
    p.add_argument("--no-train", action="store_true", help="evaluate the finished runs only, train nothing")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a value of every method config")
    p.add_argument("--time-budget", type=duration, default=None, metavar="DURATION",
                   help="semcc, mijscc: start only the runs expected to finish within DURATION (2h30m, 90m, "
                        "5400), judged by the median time of each method's finished runs; the rest wait for a "
                        "later call (for batch jobs and machines lent for a fixed time)")
    p.set_defaults(func=cmd_experiment)

    p = sub.add_parser("multimodal", help="multi-modal devices: pre-train, fine-tune over the channel, evaluate")
    p.add_argument("action", choices=["pretrain", "finetune", "eval"])
    p.add_argument("--config", default=None, help="pretrain, finetune: YAML config (configs/multimodal/...)")
    p.add_argument("--out", default=None, help="pretrain, finetune: run folder to write")
    p.add_argument("--pretrained", default=None, help="finetune: a pre-training run folder (none: from scratch)")
    p.add_argument("--bundle", default=None, help="eval: a fine-tuning run folder")
    p.add_argument("--snr", type=float, nargs="+", default=[0, 10, 20], help="eval: SNRs in dB")
    p.add_argument("--modalities", nargs="+", default=None, help="eval: the data's modalities (default: the bundle's)")
    p.add_argument("--data-root", default=None, help="eval: dataset folder (NYU Depth V2)")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value")
    p.set_defaults(func=cmd_multimodal)

    p = sub.add_parser("mfmsc", help="multi-modal multi-task transceiver (MFMSC and comparisons): train, evaluate")
    p.add_argument("action", choices=["train", "eval"])
    p.add_argument("--config", default=None, help="train: YAML config (configs/mfmsc/...)")
    p.add_argument("--out", default=None, help="train: run folder to write (a bundle)")
    p.add_argument("--bundle", default=None, help="eval: a run folder")
    p.add_argument("--tasks", nargs="+", default=None, help="eval: tasks to evaluate (default: the bundle's)")
    p.add_argument("--channel", default="awgn", help="eval: awgn, rayleigh, ...")
    p.add_argument("--snr", type=float, nargs="+", default=[0, 10, 20], help="eval: SNRs in dB")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value")
    p.set_defaults(func=cmd_mfmsc)

    p = sub.add_parser("bench", help="benchmarks that print figures")
    bench = p.add_subparsers(dest="what", required=True, metavar="BENCHMARK")
    b = bench.add_parser("train-step", help="milliseconds per training step of every method")
    b.add_argument("--ratio", default="1/24", help="bandwidth ratio k/n")
    b.add_argument("--batch-size", type=positive_int, default=128, help="images per step")
    b.add_argument("--steps", type=positive_int, default=20, help="timed steps per method")
    b.add_argument("--device", default="cpu", help="cpu or cuda")
    b.add_argument("--precision", default="32-true", choices=["32-true", "bf16-mixed"],
                   help="float32, or bfloat16 autocast (trainer.precision: bf16-mixed)")
    b.add_argument("--compile", action="store_true",
                   help="run the loss through torch.compile, as trainer.compile: true (compiled in the warm-up)")
    b.set_defaults(func=cmd_bench_train_step)
    b = bench.add_parser("train-precision", help="train each method in two modes (default float32 and bf16-mixed) with "
                                                 "a short budget and compare the models (evaluated in float32)")
    b.add_argument("--methods", nargs="+", default=None,
                   help="deepjscc, deepsc, semcc, semre, mijscc (default: all)")
    b.add_argument("--train-size", type=positive_int, default=5000, help="training images per run")
    b.add_argument("--epochs", type=positive_int, default=5, help="epochs of the main stage")
    b.add_argument("--finetune-epochs", type=positive_int, default=2, help="epochs of a fine-tuning stage, where "
                                                                          "the method has one")
    b.add_argument("--classifier", default=None, help="downstream classifier weights to share (.safetensors); "
                                                      "default: each run trains its config's")
    b.add_argument("--samples", type=positive_int, default=2000, help="test images per evaluation")
    b.add_argument("--reference", default="32-true", choices=list(TRAINING_MODES),
                   help="the mode the candidate is judged against")
    b.add_argument("--candidate", default="bf16-mixed", choices=list(TRAINING_MODES),
                   help="bf16-mixed: bfloat16 autocast; *-compiled: the same with trainer.compile (torch.compile)")
    b.add_argument("--runs", default="runs/train-precision", help="run folders (reused when present)")
    b.add_argument("--out", default="results/train-precision", help="folder for records.jsonl and results.md")
    b.set_defaults(func=cmd_bench_train_precision)
    b = bench.add_parser("ota", help="delivery and PSNR over the air (burst PHY, sample-level channels) "
                                     "against the symbol-level channel")
    b.add_argument("--bundle", default="bundles/deepjscc-fmnist-1_12")
    b.add_argument("--snr-db", type=float, nargs="+", default=[-3, 0, 3, 6, 10, 15, 20], help="SNRs per subcarrier")
    b.add_argument("--channels", nargs="+", default=["awgn", "tdl-a"], choices=["awgn", "tdl-a"])
    b.add_argument("--cfo", type=float, default=2.5, help="carrier offset in subcarrier spacings")
    b.add_argument("--burst", type=positive_int, default=32, help="images per burst")
    b.add_argument("--images", type=positive_int, default=1024, help="test images per point")
    b.add_argument("--out", default="results/ota", help="folder for delivery.jsonl, delivery.md, delivery.png")
    b.set_defaults(func=cmd_bench_ota)

    p = sub.add_parser("bundle", help="bundle maintenance: upgrade bundles of an earlier format; sign (record the "
                                      "SHA-256 of) bundles edited on purpose; calibrate (measure the power of an "
                                      "image bundle's quantised symbols on its training data)")
    p.add_argument("action", choices=["upgrade", "sign", "calibrate"])
    p.add_argument("bundles", nargs="+", help="bundle folders, rewritten in place")
    p.set_defaults(func=cmd_bundle)

    p = sub.add_parser("info", help="print a bundle's card")
    p.add_argument("--bundle", default=DEFAULT_BUNDLE)
    p.set_defaults(func=cmd_info)

    _gnuradio_commands(sub, bench)
    return parser


def _gnuradio_commands(commands, bench) -> None:
    """Add the GNU Radio module's commands; without GNU Radio, commands of the same names that say why."""
    try:
        module = importlib.import_module("gnuradio.semcom.cli")
    except ImportError as err:
        reason = (f"this command needs GNU Radio and the gr-semcom module ({err}); run `make setup` or install "
                  "gr-semcom into this Python's GNU Radio")

        def unavailable(_args):
            raise SystemExit(f"semcom: {reason}")

        for name in GNURADIO_COMMANDS:
            commands.add_parser(name, help="(needs GNU Radio)").set_defaults(func=unavailable)
        for name in GNURADIO_BENCHMARKS:
            bench.add_parser(name, help="(needs GNU Radio)").set_defaults(func=unavailable)
        return
    module.register(commands, bench)


def main(argv=None) -> None:
    """Run a command. A user's error (a bad config, bundle, dataset, path or value) is one line on stderr and
    exit code 2, without a traceback unless ``--debug`` is given."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except SystemExit as err:
        if not isinstance(err.code, str) or args.debug:
            raise
        _user_error(args.command, err.code.removeprefix(f"semcom {args.command}: error: ").removeprefix("semcom: "))
    except Exception as err:  # noqa: BLE001 - user errors are told apart by type below
        if args.debug or not isinstance(err, _user_error_types()):
            raise
        _user_error(args.command, str(err))


def _user_error_types() -> tuple:
    """The exceptions that report a user's mistake. The project's own are only looked up in modules already
    imported (an error cannot be of a class that was never loaded), so that a config error costs no torch."""
    types = [FileNotFoundError, NotADirectoryError, IsADirectoryError, FloatingPointError, ValueError]
    for module, name in (("semcom_core.bundles.format", "BundleError"), ("semcom_core.data.common", "DatasetError")):
        if module in sys.modules:
            types.append(getattr(sys.modules[module], name))
    return tuple(types)


def _user_error(command: str, message: str) -> None:
    """Print one line and exit with code 2."""
    line = " ".join(message.split())
    print(f"semcom {command}: error: {line}", file=sys.stderr)
    raise SystemExit(2) from None


if __name__ == "__main__":
    main()
