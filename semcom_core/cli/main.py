"""The `semcom` command: train, export, eval, plot, experiment, demo, bench, info."""

from __future__ import annotations

import argparse
import importlib
import json
import shlex
import sys
from pathlib import Path

import yaml

DEFAULT_BUNDLE = "bundles/deepjscc-fmnist-1_12"
MIJSCC_BENCH_BUNDLE = "bundles/a-mijscc-fmnist-8bit"   # semcom bench mijscc-gr


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


def cmd_train(args) -> None:
    from ..config import load_config
    from ..training import train_run

    cfg = load_config(args.config, _overrides(args.set))
    train_run(cfg, args.out, command=_command_line())


def cmd_export(args) -> None:
    from ..export import export_mijscc_run, export_run, read_run

    export = export_mijscc_run if read_run(args.run)["method"] in ("mijscc", "a-mijscc") else export_run
    path = export(args.run, args.out, command=_command_line(), samples=args.samples)
    card = json.loads((path / "card.json").read_text())
    print(f"export: bundle written to {path}")
    print(json.dumps(card["metrics"], indent=2))


def cmd_eval(args) -> None:
    from ..bundle import load_bundle
    from ..experiments.evaluate import evaluate_bundle
    from ..experiments.records import append_records, print_table

    bundle = load_bundle(args.bundle, method=args.method)
    records = evaluate_bundle(bundle, args.channel, args.snr, samples=args.samples, seed=args.seed,
                              data_root=args.data_root, csi=args.csi, pilots=args.pilots)
    print_table(records)
    if args.out:
        append_records(args.out, records)
        print(f"eval: {len(records)} records appended to {args.out}")


def cmd_plot(args) -> None:
    from ..experiments.plots import plot_records
    from ..experiments.records import read_records

    out = args.out or str(Path(args.records).with_suffix(".png"))
    print(f"plot: {plot_records(read_records(args.records), out)}")


def _flowgraph_runner():
    try:
        return importlib.import_module("gnuradio.semcom.flowgraph_runner")
    except ImportError as err:
        raise SystemExit(f"this command needs GNU Radio and the gr-semcom module ({err}); run `make setup` "
                         "or install gr-semcom into this Python's GNU Radio") from err


def cmd_demo(args) -> None:
    _flowgraph_runner().demo(bundle=args.bundle, snrs=args.snr, channel=args.channel,
                             num_images=args.images, out_dir=args.out_dir)


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
                              train=not args.no_train)
        return
    from ..experiments.semcc import run_experiment

    run_experiment(spec, runs, out, parts=args.part, overrides=_overrides(args.set), jobs=args.jobs,
                   device=args.device, train_only=args.train_only, train=not args.no_train,
                   command=_command_line())


def cmd_multimodal(args) -> None:
    from .. import training_multimodal as mm

    if args.action == "eval":
        system, card = mm.load_multimodal_bundle(args.bundle)
        cfg = mm.load_mm_config(None, {k: v for k, v in card["config"].items() if k != "trainer"},
                                {"dataset": {"root": args.data_root}} if args.data_root else None)
        data = mm.load_data(cfg, "test", modalities=args.modalities)
        mm.check_bundle_data(card, data)
        for snr in args.snr:
            accuracy = mm.evaluate_system(system, data, snr, card["augment"], seed=args.seed)
            print(f"multimodal eval: {card['method']} ({', '.join(card['modalities'])}) at {snr:g} dB: "
                  f"accuracy {accuracy:.4f} on {len(data)} test samples")
        return
    if not args.config or not args.out:
        raise SystemExit(f"semcom multimodal {args.action}: --config and --out are required")
    cfg = mm.load_mm_config(args.config, _overrides(args.set))
    if args.action == "pretrain":
        mm.pretrain_run(cfg, args.out)
    else:
        mm.finetune_run(cfg, args.out, pretrained=args.pretrained)


def cmd_mfmsc(args) -> None:
    from .. import training_mfmsc as mt
    from ..data.mfmsc.tasks import build_tasks

    if args.action == "eval":
        system, card, tokenizer = mt.load_mfmsc_bundle(args.bundle)
        cfg = mt.load_mfmsc_config(None, {k: v for k, v in card["config"].items() if k != "trainer"},
                                   {"tasks": args.tasks} if args.tasks else None)
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
    if not args.config or not args.out:
        raise SystemExit("semcom mfmsc train: --config and --out are required")
    mt.train_run(mt.load_mfmsc_config(args.config, _overrides(args.set)), args.out)


def cmd_bench(args) -> None:
    if args.what == "ldpc":
        from ..experiments.bench_ldpc import bench_ldpc, format_ldpc_table

        print(format_ldpc_table(bench_ldpc(rate=args.rate, n=args.n, batch=args.batch, snr_db=args.snr,
                                           max_iter=args.iterations)))
        return
    if args.what == "train-step":
        from ..experiments.bench import bench_train_step
        from ..experiments.records import format_table

        results = bench_train_step(ratio=args.ratio, batch_size=args.batch_size, steps=args.steps, device=args.device)
        print(format_table(results, columns=("method", "stage", "k", "batch_size", "ms_per_step", "images_per_s",
                                             "relative_to_deepjscc", "device", "threads")))
        return
    if args.what == "mijscc-gr":
        from ..experiments.records import format_table

        snrs = [float(x) for x in str(args.snrs).split(",") if x.strip()]
        rows = _flowgraph_runner().bench_mijscc(args.bundle or MIJSCC_BENCH_BUNDLE, snrs=snrs,
                                                num_images=args.images or 300)
        print(format_table(rows, columns=("config", "snr_db", "payload", "header", "total", "gamma",
                                          "images_per_s", "delivered", "psnr", "accuracy", "images")))
        return
    if args.what == "ofdm-gap":
        from gnuradio.semcom.ofdm_link import format_gap, measure_gap

        snrs = [float(x) for x in str(args.snrs).split(",") if x.strip()] if args.snrs != "6,18" else \
            [8.0, 10.0, 12.0, 15.0, 20.0, 25.0]
        records = measure_gap(args.bundle or MIJSCC_BENCH_BUNDLE, snrs=snrs, num_images=args.images or 200,
                              out_dir=args.out)
        print(format_gap(records))
        print(f"records, table and plot in {args.out}")
        return
    if args.what == "ofdm":
        from gnuradio.semcom.ofdm_link import bench_ofdm, format_bench

        result = bench_ofdm(args.bundle or MIJSCC_BENCH_BUNDLE, num_images=args.images or 2000,
                            snr_db=args.snr if args.snr is not None else 20.0)
        print(json.dumps(result, indent=2, default=str))
        print(format_bench(result))
        return
    if args.what == "flowgraph":
        result = _flowgraph_runner().bench_flowgraph(args.bundle or DEFAULT_BUNDLE, num_images=args.images or 2000)
        print(json.dumps(result, indent=2, default=str))
        print(f"bench flowgraph: {result['images_per_s_flowgraph']:.0f} images/s through the loopback flowgraph, "
              f"{result['images_per_s_bare']:.0f} images/s bare batched inference, ratio {result['ratio']:.2f} "
              f"({result['num_images']} images, batch {result['max_batch']})")


def cmd_info(args) -> None:
    from ..bundle import read_card

    print(json.dumps(read_card(args.bundle), indent=2))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="semcom", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a method from a YAML config")
    p.add_argument("--config", required=True)
    p.add_argument("--out", required=True, help="run folder to write")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("export", help="turn a run folder into a bundle")
    p.add_argument("--run", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--samples", type=int, default=2000, help="test images for the card's metrics")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("eval", help="evaluate a bundle over a channel and SNRs")
    p.add_argument("--bundle", default=DEFAULT_BUNDLE)
    p.add_argument("--channel", default="awgn")
    p.add_argument("--snr", type=float, nargs="+", default=[0, 5, 10, 15, 20])
    p.add_argument("--method", default=None, help="refuse a bundle made by another method (e.g. semcc)")
    p.add_argument("--csi", default="perfect", choices=["perfect", "ls"])
    p.add_argument("--pilots", type=int, default=4)
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-root", default=None)
    p.add_argument("--out", default=None, help="JSON-lines file to append records to")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("plot", help="plot PSNR and accuracy against SNR from records")
    p.add_argument("records")
    p.add_argument("--out", default=None)
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("demo", help="run the GNU Radio loopback flowgraph at several SNRs")
    p.add_argument("--bundle", default=DEFAULT_BUNDLE)
    p.add_argument("--snr", type=float, nargs="+", default=[0, 5, 10, 15, 20])
    p.add_argument("--channel", default="awgn")
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--out-dir", default="results/demo")
    p.set_defaults(func=cmd_demo)

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
                   choices=["all", "ratios", "ablation", "alpha", "robustness", "visual"])
    p.add_argument("--jobs", type=int, default=1, help="training runs at a time (child processes)")
    p.add_argument("--device", default=None, help="evaluation device (default: cuda if available)")
    p.add_argument("--train-only", action="store_true", help="train what is missing, evaluate nothing")
    p.add_argument("--no-train", action="store_true", help="evaluate the finished runs only, train nothing")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a value of every method config")
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
    p.add_argument("--seed", type=int, default=0)
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
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value")
    p.set_defaults(func=cmd_mfmsc)

    p = sub.add_parser("bench", help="benchmarks that print figures")
    p.add_argument("what", choices=["flowgraph", "train-step", "ldpc", "mijscc-gr", "ofdm", "ofdm-gap"])
    p.add_argument("--out", default="results/ofdm-gap", help="ofdm-gap: folder for records, table and plot")
    p.add_argument("--bundle", default=None,
                   help=f"flowgraph: default {DEFAULT_BUNDLE}; mijscc-gr, ofdm: default {MIJSCC_BENCH_BUNDLE}")
    p.add_argument("--images", type=int, default=None, help="flowgraph, ofdm: default 2000; mijscc-gr: per point, default 300")
    p.add_argument("--snrs", default="6,18",
                   help="mijscc-gr: comma-separated SNRs in dB; ofdm-gap: the same (default 8,10,12,15,20,25)")
    p.add_argument("--ratio", default="1/24", help="train-step: bandwidth ratio")
    p.add_argument("--batch-size", type=int, default=128, help="train-step: images per step")
    p.add_argument("--steps", type=int, default=20, help="train-step: timed steps per method")
    p.add_argument("--device", default="cpu", help="train-step: cpu or cuda")
    p.add_argument("--rate", default="1/2", help="ldpc: WiMAX code rate (1/2, 2/3, 2/3B, 3/4, 3/4B, 5/6)")
    p.add_argument("--n", type=int, default=2304, help="ldpc: codeword length (576 to 2304, step 96)")
    p.add_argument("--batch", type=int, default=1000, help="ldpc: frames decoded by each decoder")
    p.add_argument("--snr", type=float, default=None, help="ldpc: Eb/N0 in dB (default: near the waterfall); ofdm: SNR (default 20)")
    p.add_argument("--iterations", type=int, default=20, help="ldpc: most decoder iterations")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("info", help="print a bundle's card")
    p.add_argument("--bundle", default=DEFAULT_BUNDLE)
    p.set_defaults(func=cmd_info)
    return parser


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    from ..bundle import BundleError
    from ..config import ConfigError
    from ..data import DatasetError

    try:
        args.func(args)
    except (BundleError, ConfigError, DatasetError, FileNotFoundError, FloatingPointError, ValueError) as err:
        raise SystemExit(f"semcom {args.command}: error: {err}") from None


if __name__ == "__main__":
    main()
