#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The GNU Radio commands of ``semcom``: the demo and the benchmarks that run flowgraphs or gr-fec.

``semcom_core``'s command line loads this module and calls :func:`register`; every command here has its
own flags, named for what they mean (``--snr-db`` is an SNR per symbol, ``--ebn0-db`` an Eb/N0).
"""

from __future__ import annotations

import argparse
import json

from semcom_core.cli.main import non_negative_int, positive_int

DEFAULT_BUNDLE = "bundles/deepjscc-fmnist-1_12"
MIJSCC_BUNDLE = "bundles/a-mijscc-fmnist-8bit"
GAP_SNRS = (8.0, 10.0, 12.0, 15.0, 20.0, 25.0)


def db_values(text: str) -> list[float]:
    """``"6,18"`` or ``"6"`` -> ``[6.0, 18.0]`` (for flags that take one or more values in dB)."""
    try:
        return [float(x) for x in str(text).split(",") if x.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected numbers in dB such as 6 or 6,18, got {text!r}") from err


def _flat(values) -> list[float]:
    return [v for group in values for v in group]


def cmd_demo(args) -> None:
    from .running.loopback import demo

    demo(bundle=args.bundle, snrs=args.snr_db, channel=args.channel, num_images=args.images, out_dir=args.out_dir,
         data_root=args.data_root or "")


def cmd_bench_flowgraph(args) -> None:
    from .bench.flowgraph import bench_flowgraph

    result = bench_flowgraph(args.bundle, num_images=args.images, max_batch=args.batch, snr_db=args.snr_db,
                             channel=args.channel, quant_bits=args.quant_bits, precision=args.precision,
                             repeats=args.repeats)
    print(json.dumps(result, indent=2, default=str))
    print(f"bench flowgraph: {result['images_per_s_flowgraph']:.0f} images/s through the loopback flowgraph, "
          f"{result['images_per_s_bare']:.0f} images/s bare batched inference, ratio {result['ratio']:.2f} "
          f"({result['num_images']} images, batch {result['max_batch']}, networks in {result['precision']}: bare PSNR "
          f"{result['psnr_bare']:.3f} dB, {result['psnr_fp32']:.3f} dB in fp32 with the same noise)")


def cmd_bench_mijscc(args) -> None:
    from semcom_core.records import format_table

    from .bench.mijscc import bench_mijscc

    rows = bench_mijscc(args.bundle, snrs=_flat(args.snr_db), num_images=args.images)
    print(format_table(rows, columns=("config", "snr_db", "payload", "header", "total", "gamma", "images_per_s",
                                      "delivered", "psnr", "accuracy", "images")))


def cmd_bench_ofdm(args) -> None:
    from .bench.ofdm import bench_ofdm, format_bench

    result = bench_ofdm(args.bundle, num_images=args.images, snr_db=args.snr_db, burst=args.burst,
                        link_images=0 if args.json else args.link_images)
    if args.json:
        print(json.dumps(result, default=str))
    else:
        print(format_bench(result))


def cmd_bench_mfmsc(args) -> None:
    from .bench.mfmsc import bench_mfmsc, format_mfmsc

    rows = bench_mfmsc(args.bundle, snrs=_flat(args.snr_db), num_instances=args.instances, out_dir=args.out)
    print(format_mfmsc(rows, args.bundle))


def cmd_bench_rgbd(args) -> None:
    from .bench.rgbd import bench_rgbd, format_rgbd

    rows = bench_rgbd(args.bundle, snrs=_flat(args.snr_db), num_samples=args.samples, out_dir=args.out)
    print(format_rgbd(rows, args.bundle))
    print(f"records and table in {args.out}")


def cmd_bench_gap(args) -> None:
    from .bench.gap import format_gap, measure_gap

    records = measure_gap(args.bundle, snrs=_flat(args.snr_db), num_images=args.images, out_dir=args.out)
    print(format_gap(records))
    print(f"records, table and plot in {args.out}")


def cmd_bench_ldpc(args) -> None:
    from semcom_core.experiments.bench_ldpc import bench_ldpc, format_ldpc_table

    from .bench.ldpc import gr_fec_row

    print(format_ldpc_table(bench_ldpc(rate=args.rate, n=args.n, batch=args.batch, snr_db=args.ebn0_db,
                                       max_iter=args.iterations, more_decoders=(gr_fec_row,))))


def cmd_capture(args) -> None:
    from semcom_core.link.air.sigmf_io import CaptureError

    from .phy.impairments import Impairments
    from .running.capture import record_capture, replay_capture

    if args.action == "record":
        meta = record_capture(args.bundle, args.path, num_images=args.images, impairments=Impairments(
            snr_db=args.snr_db, cfo=args.cfo, seed=args.seed))
        print(f"capture: {args.images} images recorded in {meta} and {meta.with_suffix('.sigmf-data')}")
        return
    try:
        s = replay_capture(args.path, args.bundle, out_path=args.out or "")
    except CaptureError as err:
        raise SystemExit(f"semcom capture: {err}") from err
    print(f"capture: {s['frames']} frames decoded, {s['count']} of {s['expected']} images scored, PSNR "
          f"{s['psnr']:.2f} dB, accuracy {100 * s['accuracy']:.1f} %, dropped {s['dropped']}")


def cmd_grc(args) -> None:
    from .running.grc import compile_grc, grc_blocks_path

    print(f"grc: GRC_BLOCKS_PATH={grc_blocks_path()}")
    for path in args.flowgraphs:
        try:
            generated = compile_grc(path, args.out)
        except FileNotFoundError as err:
            raise SystemExit(f"semcom grc: {err}") from err
        except RuntimeError as err:
            raise SystemExit(f"semcom grc: {str(err).splitlines()[0]}") from err
        print(f"grc: {path} -> {generated}")


def register(commands, bench) -> None:
    """Add ``demo`` and ``grc`` to the ``semcom`` subcommands and the GNU Radio benchmarks to ``semcom bench``."""
    p = commands.add_parser("capture", help="record an OFDM transmission as a SigMF capture, or decode one")
    p.add_argument("action", choices=["record", "replay"])
    p.add_argument("path", help="capture name (<path>.sigmf-meta and <path>.sigmf-data)")
    p.add_argument("--bundle", default=MIJSCC_BUNDLE)
    p.add_argument("--images", type=positive_int, default=8, help="record: test images to send")
    p.add_argument("--snr-db", type=float, default=None, help="record: noise for this SNR per subcarrier (none: clean)")
    p.add_argument("--cfo", type=float, default=0.0, help="record: carrier offset in subcarrier spacings")
    p.add_argument("--seed", type=non_negative_int, default=0, help="record: noise seed")
    p.add_argument("--out", default=None, help="replay: JSON-lines file to append the record to")
    p.set_defaults(func=cmd_capture)

    p = commands.add_parser("grc", help="compile .grc flowgraphs with grcc, the semcom blocks on its path "
                                        "(refuses a script that lost them)")
    p.add_argument("flowgraphs", nargs="+", help=".grc files")
    p.add_argument("--out", default=".", help="folder for the generated Python files")
    p.set_defaults(func=cmd_grc)

    p = commands.add_parser("demo", help="run the GNU Radio loopback flowgraph at several SNRs")
    p.add_argument("--bundle", default=DEFAULT_BUNDLE)
    p.add_argument("--snr-db", "--snr", dest="snr_db", type=float, nargs="+", default=[0, 5, 10, 15, 20],
                   help="SNRs per symbol in dB")
    p.add_argument("--channel", default="awgn")
    p.add_argument("--images", type=positive_int, default=1000)
    p.add_argument("--out-dir", default="results/demo")
    p.add_argument("--data-root", default=None, help="dataset folder of the test images (default: the bundle card's "
                   "root, else the embedded data)")
    p.set_defaults(func=cmd_demo)

    p = bench.add_parser("flowgraph", help="images/s through the loopback flowgraph against bare batched inference")
    p.add_argument("--bundle", default=DEFAULT_BUNDLE)
    p.add_argument("--images", type=positive_int, default=2000)
    p.add_argument("--batch", type=positive_int, default=64, help="images per forward pass, in both")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                   help="the networks' arithmetic, in both (auto: bf16 where the CPU has it natively)")
    p.add_argument("--repeats", type=positive_int, default=3, help="measurements of each, in turn; the best counts")
    p.add_argument("--snr-db", type=float, default=10.0, help="SNR per symbol (dB)")
    p.add_argument("--channel", default="awgn")
    p.add_argument("--quant-bits", type=int, default=0, help="0 analog symbols, q > 0 q-bit, -1 the bundle's")
    p.set_defaults(func=cmd_bench_flowgraph)

    p = bench.add_parser("mijscc-gr", help="symbols per image and images/s of analog, 8-bit and A-MIJSCC frames")
    p.add_argument("--bundle", default=MIJSCC_BUNDLE)
    p.add_argument("--images", type=positive_int, default=300, help="images per point")
    p.add_argument("--snr-db", "--snrs", dest="snr_db", type=db_values, nargs="+", default=[[6.0, 18.0]],
                   help="SNRs per symbol in dB (space- or comma-separated)")
    p.set_defaults(func=cmd_bench_mijscc)

    p = bench.add_parser("ofdm", help="OFDM transmitter, receiver and whole semantic link: samples/s and images/s")
    p.add_argument("--bundle", default=MIJSCC_BUNDLE)
    p.add_argument("--images", type=positive_int, default=2000)
    p.add_argument("--snr-db", "--snr", dest="snr_db", type=float, default=20.0, help="SNR per subcarrier (dB)")
    p.add_argument("--burst", type=positive_int, default=32, help="most images per burst (1: one image a burst)")
    p.add_argument("--link-images", type=non_negative_int, default=300, help="images through the whole semantic link (0: skip)")
    p.add_argument("--json", action="store_true", help="print one JSON object (without the semantic link)")
    p.set_defaults(func=cmd_bench_ofdm)

    p = bench.add_parser("ofdm-gap", help="the full OFDM chain with impairments against the symbol-level link")
    p.add_argument("--bundle", default=MIJSCC_BUNDLE)
    p.add_argument("--images", type=positive_int, default=200, help="images per point")
    p.add_argument("--snr-db", "--snrs", dest="snr_db", type=db_values, nargs="+", default=[list(GAP_SNRS)],
                   help="SNRs in dB (space- or comma-separated)")
    p.add_argument("--out", default="results/ofdm-gap", help="folder for records, table and plot")
    p.set_defaults(func=cmd_bench_gap)

    p = bench.add_parser("rgbd", help="the multi-device RGB-D flowgraph against the library: accuracy and samples/s")
    p.add_argument("--bundle", default="bundles/rgbd-proposed-snr10")
    p.add_argument("--samples", type=positive_int, default=500, help="test samples per point")
    p.add_argument("--snr-db", "--snrs", dest="snr_db", type=db_values, nargs="+", default=[[0.0, 10.0, 20.0]],
                   help="SNRs in dB (both devices)")
    p.add_argument("--out", default="results/rgbd-flowgraph", help="folder for records and table")
    p.set_defaults(func=cmd_bench_rgbd)

    p = bench.add_parser("mfmsc", help="the MFMSC flowgraph (every task mixed) against the library: task metrics "
                         "and instances/s")
    p.add_argument("--bundle", default="bundles/mfmsc-embedded")
    p.add_argument("--instances", type=positive_int, default=200, help="test instances per task and point")
    p.add_argument("--snr-db", "--snrs", dest="snr_db", type=db_values, nargs="+", default=[[0.0, 10.0, 20.0]],
                   help="SNRs in dB")
    p.add_argument("--out", default="results/mfmsc-flowgraph", help="folder for records and table")
    p.set_defaults(func=cmd_bench_mfmsc)

    p = bench.add_parser("ldpc", help="WiMAX LDPC: layered min-sum, Sionna BP and gr-fec on the same LLRs")
    p.add_argument("--rate", default="1/2", help="code rate (1/2, 2/3, 2/3B, 3/4, 3/4B, 5/6)")
    p.add_argument("--n", type=positive_int, default=2304, help="codeword length (576 to 2304, step 96)")
    p.add_argument("--batch", type=positive_int, default=1000, help="frames decoded by each decoder")
    p.add_argument("--ebn0-db", "--snr", dest="ebn0_db", type=float, default=None,
                   help="Eb/N0 of BPSK in dB (default: near the code's waterfall)")
    p.add_argument("--iterations", type=positive_int, default=20, help="most decoder iterations")
    p.set_defaults(func=cmd_bench_ldpc)
