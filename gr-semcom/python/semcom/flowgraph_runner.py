#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Compile the semcom ``.grc`` flowgraphs and run them headless.

PDU-driven flowgraphs never finish by themselves (the source emits its images
and then idles), so ``tb.run()`` would block forever. The runner starts the
top block, waits for the metrics sink to report ``done()`` with a deadline,
then calls ``stop()`` and ``wait()``.

    from gnuradio.semcom import flowgraph_runner as fr
    summary = fr.run_loopback("bundles/deepjscc-fmnist-1_12", snr_db=10, channel="awgn",
                              num_images=200, out_path="results/flowgraph.jsonl")
    bench = fr.bench_flowgraph("bundles/deepjscc-fmnist-1_12", num_images=1000)
    both = fr.run_side_by_side("bundles/deepjscc-fmnist-1_12", snr_db=20, num_images=100,
                               out_path="results/side_by_side.jsonl")   # {"semantic": ..., "digital": ...}
    steps = fr.run_adaptive_snr("bundles/a-mijscc-fmnist-8bit", snrs=(6, 12, 18, 21), images_per_snr=100)
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

LOOPBACK_GRC = "semantic_loopback.grc"
SIDE_BY_SIDE_GRC = "semantic_vs_digital.grc"
ADAPTIVE_SNR_GRC = "adaptive_snr.grc"
_BLOCK_PROBE = "semcom_jscc_tx.block.yml"
_HERE = Path(__file__).resolve().parent

_compiled: dict = {}
_compile_lock = threading.Lock()


# ---------------------------------------------------------------------------
# Locating things
# ---------------------------------------------------------------------------

def _prefixes() -> list[Path]:
    """Install prefixes to look under: the running Python's and the one this file is installed in."""
    out = [Path(sys.prefix)]
    parts = _HERE.parts
    # <prefix>/lib/pythonX.Y/site-packages/gnuradio/semcom
    if len(parts) > 5 and parts[-2] == "gnuradio" and parts[-3] in ("site-packages", "dist-packages"):
        out.append(Path(*parts[:-5]))
    seen, unique = set(), []
    for p in out:
        if p not in seen:
            seen.add(p)
            unique.append(p)
    return unique


def blocks_dirs() -> list[str]:
    """Folders holding the semcom GRC block YAML (installed copy first, else the source tree's)."""
    found = []
    for prefix in _prefixes():
        d = prefix / "share" / "gnuradio" / "grc" / "blocks"
        if (d / _BLOCK_PROBE).is_file():
            found.append(str(d))
    if not found:
        src = _HERE.parent.parent / "grc"   # gr-semcom/python/semcom -> gr-semcom/grc
        if (src / _BLOCK_PROBE).is_file():
            found.append(str(src))
    return found


def grc_blocks_path() -> str:
    """Value for GRC_BLOCKS_PATH: the caller's entries plus the semcom block folder."""
    entries = [p for p in os.environ.get("GRC_BLOCKS_PATH", "").split(os.pathsep) if p]
    have_semcom = any((Path(p) / _BLOCK_PROBE).is_file() for p in entries)
    if not have_semcom:
        entries += blocks_dirs()
    return os.pathsep.join(entries)


def flowgraph_dirs() -> list[Path]:
    """Folders that may hold the semcom .grc files, most specific first."""
    dirs = []
    if os.environ.get("SEMCOM_FLOWGRAPHS"):
        dirs.append(Path(os.environ["SEMCOM_FLOWGRAPHS"]))
    dirs.append(Path.cwd() / "flowgraphs")
    try:
        import semcom_core

        dirs.append(Path(semcom_core.__file__).resolve().parent.parent / "flowgraphs")
    except ImportError:
        pass
    dirs.append(_HERE.parent.parent.parent / "flowgraphs")   # source tree: <repo>/gr-semcom/python/semcom
    for prefix in _prefixes():
        dirs.append(prefix / "share" / "gr-semcom" / "flowgraphs")
    return dirs


def find_flowgraph(name: str = LOOPBACK_GRC) -> Path:
    for d in flowgraph_dirs():
        if (d / name).is_file():
            return (d / name).resolve()
    raise FileNotFoundError(f"flowgraph {name} not found in: {', '.join(str(d) for d in flowgraph_dirs())} "
                            "(set SEMCOM_FLOWGRAPHS to the folder holding it)")


# ---------------------------------------------------------------------------
# Compiling and loading
# ---------------------------------------------------------------------------

def compile_grc(grc_path, out_dir) -> Path:
    """Compile a .grc file with ``grcc`` into ``out_dir``; returns the generated Python file.

    GRC_BLOCKS_PATH is extended with the semcom block folder, without which
    grcc cannot resolve the semcom blocks. Raises ``RuntimeError`` with grcc's
    output when it fails.
    """
    grc_path = Path(grc_path).resolve()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    grcc = shutil.which("grcc")
    if grcc is None:
        raise RuntimeError("grcc not found on PATH (install GNU Radio's gnuradio package)")
    env = dict(os.environ, GRC_BLOCKS_PATH=grc_blocks_path())
    proc = subprocess.run([grcc, "-o", str(out_dir), str(grc_path)], env=env, capture_output=True, text=True,
                          timeout=300)
    generated = out_dir / f"{_flowgraph_id(grc_path)}.py"
    if proc.returncode != 0 or not generated.is_file():
        raise RuntimeError(f"grcc failed on {grc_path} (exit {proc.returncode}, GRC_BLOCKS_PATH="
                           f"{env['GRC_BLOCKS_PATH']}):\n{proc.stdout}\n{proc.stderr}")
    return generated


def _flowgraph_id(grc_path: Path) -> str:
    """The ``options`` block id of a .grc file (the generated file's name)."""
    import yaml

    data = yaml.safe_load(Path(grc_path).read_text())
    return str(data["options"]["parameters"]["id"])


def _ensure_gnuradio_semcom() -> None:
    """Make ``from gnuradio import semcom`` work when running from the source tree."""
    try:
        import gnuradio.semcom  # noqa: F401
    except ImportError:
        import gnuradio

        pkg = sys.modules[__package__]
        sys.modules["gnuradio.semcom"] = pkg
        gnuradio.semcom = pkg


def load_top_block_class(py_path):
    """Import a generated flowgraph file and return its top block class."""
    _ensure_gnuradio_semcom()
    py_path = Path(py_path)
    name = f"_semcom_fg_{py_path.stem}_{abs(hash(str(py_path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, py_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, py_path.stem)


def compiled_top_block(grc_path=None, name: str = LOOPBACK_GRC):
    """The top block class of a flowgraph, compiled once per process (and per file change)."""
    grc_path = Path(grc_path).resolve() if grc_path else find_flowgraph(name)
    key = (str(grc_path), grc_path.stat().st_mtime_ns)
    with _compile_lock:
        if key not in _compiled:
            out_dir = Path(tempfile.mkdtemp(prefix="semcom_grc_"))
            atexit.register(shutil.rmtree, out_dir, True)
            _compiled[key] = load_top_block_class(compile_grc(grc_path, out_dir))
        return _compiled[key]


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------

def _progress_printer(total: int, label: str):
    state = {"last": 0.0}

    def show(count: int, elapsed: float, final: bool = False) -> None:
        if not final and elapsed - state["last"] < 1.0:
            return
        state["last"] = elapsed
        rate = count / elapsed if elapsed > 0 else 0.0
        end = "\n" if final else "\r"
        print(f"{label}: {count}/{total} images, {elapsed:.1f} s, {rate:.0f} images/s", end=end,
              file=sys.stderr, flush=True)

    return show


def _run_until_done(tb, sinks, timeout_s: float, show) -> float:
    """Start ``tb``, wait until every sink is ``done()`` or the deadline, stop it; returns the seconds waited.

    Progress shows the count of the slowest sink.
    """
    t0 = time.perf_counter()
    tb.start()
    try:
        deadline = t0 + float(timeout_s)
        for sink in sinks:
            while not sink.done():
                now = time.perf_counter()
                if now >= deadline:
                    break
                sink.wait_done(min(0.05, deadline - now))
                if show:
                    show(min(s.count() for s in sinks), time.perf_counter() - t0)
        return time.perf_counter() - t0
    finally:
        tb.stop()
        tb.wait()


def _finish(sink, elapsed: float) -> dict:
    summary = sink.summary()
    summary["complete"] = bool(sink.done())
    summary["elapsed_s"] = elapsed
    summary["images_per_s"] = summary["count"] / elapsed if elapsed > 0 else float("nan")
    return summary


def run_top_block(tb, sink, num_images: int, timeout_s: float = 600.0, progress=False, label="flowgraph") -> dict:
    """Start ``tb``, wait until ``sink.done()`` or the deadline, stop it; returns the sink's summary.

    The summary gains ``elapsed_s`` (start to done), ``images_per_s`` and
    ``complete`` (False when the deadline passed first).
    """
    show = _progress_printer(num_images, label) if progress is True else progress or None
    elapsed = _run_until_done(tb, [sink], timeout_s, show)
    summary = _finish(sink, elapsed)
    if show:
        show(summary["count"], elapsed, final=True)
    return summary


def make_loopback(bundle, snr_db=10.0, channel="awgn", num_images=200, out_path="", quant_bits=0,
                  max_batch=64, grc_path=None):
    """Build (not start) the semantic_loopback top block with these parameters."""
    cls = compiled_top_block(grc_path)
    tb = cls(bundle=str(bundle), snr_db=float(snr_db), channel=str(channel), num_images=int(num_images),
             out_path=str(out_path or ""), quant_bits=int(quant_bits), max_batch=int(max_batch))
    available = tb.source.num_images()
    if available < int(num_images):   # the split has fewer images than asked for
        tb.sink.set_num_images(available)
    return tb


def run_loopback(bundle, snr_db=10.0, channel="awgn", num_images=200, out_path="", timeout_s=600.0,
                 quant_bits=0, max_batch=64, grc_path=None, progress=False) -> dict:
    """Run flowgraphs/semantic_loopback.grc headless once; returns the metrics summary.

    Keys: method, dataset, channel, ratio, seed, snr_db, count, psnr,
    psnr_std, ssim, accuracy, unmatched_ref, unmatched_rx, problems,
    complete, elapsed_s, images_per_s, dropped_tx, dropped_rx and record
    (the result record; None when nothing arrived). With ``out_path`` the
    record (source "flowgraph") is appended there.
    ``progress``: True prints a progress line to stderr.
    """
    tb = make_loopback(bundle, snr_db, channel, num_images, out_path, quant_bits, max_batch, grc_path)
    label = f"flowgraph {channel} {float(snr_db):g} dB"
    summary = run_top_block(tb, tb.sink, tb.sink.num_images, timeout_s, progress, label)
    summary["dropped_tx"] = tb.tx.dropped()
    summary["dropped_rx"] = tb.rx.dropped()
    summary["record"] = tb.sink.record() if summary["count"] else None
    return summary


DIGITAL_DEFAULTS = {"codec": "bpg", "family": "nr", "rate": "3/4", "qam": 64, "code_n": 576,
                    "channel_uses": 131, "digital_method": ""}


def make_side_by_side(bundle, snr_db=10.0, channel="awgn", num_images=200, out_path="", quant_bits=0,
                      max_batch=64, grc_path=None, **digital):
    """Build (not start) the semantic_vs_digital top block.

    ``digital``: the digital link's parameters (``DIGITAL_DEFAULTS`` for the
    rest): ``codec``, ``family``, ``rate``, ``qam``, ``code_n`` (802.16e
    length), ``channel_uses`` (0: the bundle's k) and ``digital_method`` (the
    method name of its records; empty: ``<codec>+ldpc``).
    """
    unknown = set(digital) - set(DIGITAL_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown digital link parameters {sorted(unknown)}; known: {sorted(DIGITAL_DEFAULTS)}")
    d = {**DIGITAL_DEFAULTS, **digital}
    cls = compiled_top_block(grc_path, SIDE_BY_SIDE_GRC)
    tb = cls(bundle=str(bundle), snr_db=float(snr_db), channel=str(channel), num_images=int(num_images),
             out_path=str(out_path or ""), quant_bits=int(quant_bits), max_batch=int(max_batch),
             codec=str(d["codec"]), family=str(d["family"]), rate=str(d["rate"]), qam=int(d["qam"]),
             code_n=int(d["code_n"]), channel_uses=int(d["channel_uses"]),
             digital_method=str(d["digital_method"] or f"{d['codec']}+ldpc"))
    available = tb.source.num_images()
    if available < int(num_images):   # the split has fewer images than asked for
        tb.sink.set_num_images(available)
        tb.dsink.set_num_images(available)
    return tb


def run_side_by_side(bundle, snr_db=10.0, channel="awgn", num_images=200, out_path="", timeout_s=600.0,
                     quant_bits=0, max_batch=64, grc_path=None, progress=False, **digital) -> dict:
    """Run flowgraphs/semantic_vs_digital.grc headless once: the semantic and the digital link
    on the same images, channel and SNR.

    Returns ``{"semantic": summary, "digital": summary}``, each with the keys
    of :func:`run_loopback`'s summary; the digital one also has ``lost``,
    ``delivered`` (fraction), ``infeasible_tx`` (images the transmitter could
    not send), ``lost_rx`` (``digital_rx``'s lost images by reason),
    ``budget_bits`` and ``symbols`` (per image). With ``out_path`` both
    records are appended there. ``digital``: see :func:`make_side_by_side`.
    """
    tb = make_side_by_side(bundle, snr_db, channel, num_images, out_path, quant_bits, max_batch, grc_path,
                           **digital)
    num = tb.sink.num_images
    show = _progress_printer(num, f"side by side {channel} {float(snr_db):g} dB") if progress is True \
        else progress or None
    elapsed = _run_until_done(tb, [tb.sink, tb.dsink], timeout_s, show)
    semantic, dig = _finish(tb.sink, elapsed), _finish(tb.dsink, elapsed)
    if show:
        show(min(semantic["count"], dig["count"]), elapsed, final=True)
    semantic["dropped_tx"] = tb.tx.dropped()
    semantic["dropped_rx"] = tb.rx.dropped()
    semantic["record"] = tb.sink.record() if semantic["count"] else None
    dig["dropped_tx"] = tb.dtx.dropped()
    dig["dropped_rx"] = tb.drx.dropped()
    dig["infeasible_tx"] = tb.dtx.infeasible()
    dig["lost_rx"] = tb.drx.lost_reasons()
    dig["budget_bits"] = tb.dtx.budget_bits()
    dig["symbols"] = tb.dtx.frame_len
    dig["record"] = tb.dsink.record() if dig["count"] else None
    return {"semantic": semantic, "digital": dig}


def demo(bundle, snrs=(0, 5, 10, 15, 20), channel="awgn", num_images=1000, out_dir="results/demo",
         quant_bits=0, max_batch=64, timeout_s=600.0, progress=True, compare_eval=True) -> list[dict]:
    """Run the loopback flowgraph at several SNRs; records, a table and a plot.

    Appends one record per SNR (source "flowgraph") to ``<out_dir>/flowgraph.jsonl``. With
    ``compare_eval`` the same points are also computed by ``semcom eval`` (semcom_core alone, same
    bundle, images and channel) into ``<out_dir>/eval.jsonl``, so table and plot show both.
    Prints the table and writes ``<out_dir>/flowgraph.png``. Returns the flowgraph summaries.
    """
    from semcom_core.experiments.records import append_records, print_table

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records_path = out_dir / "flowgraph.jsonl"
    summaries, records = [], []
    for snr in snrs:
        s = run_loopback(bundle, snr, channel, num_images, str(records_path), timeout_s, quant_bits, max_batch,
                         progress=progress)
        summaries.append(s)
        if s.get("record"):
            records.append(s["record"])
        if not s["complete"]:
            print(f"flowgraph at {float(snr):g} dB: only {s['count']} of {num_images} images within "
                  f"{timeout_s:g} s", file=sys.stderr)
    if compare_eval and quant_bits == 0:
        from semcom_core.experiments.evaluate import evaluate_bundle

        from .common import load_bundle, resolve_bundle_path

        eval_records = evaluate_bundle(load_bundle(resolve_bundle_path(bundle)), channel, [float(x) for x in snrs],
                                       samples=num_images, progress=progress)
        append_records(out_dir / "eval.jsonl", eval_records)
        records += eval_records
    if records:
        print_table(records)
        try:
            from semcom_core.experiments.plots import plot_records

            print(f"plot: {plot_records(records, out_dir / 'flowgraph.png')}")
        except Exception as err:  # noqa: BLE001 - the records are the result; a plot failure is reported
            print(f"plot failed: {err}", file=sys.stderr)
        print(f"records appended to {records_path}" + (f" and {out_dir / 'eval.jsonl'}" if compare_eval else ""))
    return summaries


def _bare_loop(bundle, codec, images, snr_db, channel, max_batch, seed=0) -> float:
    """The flowgraph's chain as a plain batched loop in one thread; returns the seconds it took."""
    import torch

    from semcom_core.channels import make_channel

    ch = make_channel(channel, generator=torch.Generator().manual_seed(seed))
    t0 = time.perf_counter()
    with torch.no_grad():
        for lo in range(0, len(images), max_batch):
            s, side = codec.to_symbols(bundle.encode(images[lo: lo + max_batch]))
            x_hat = bundle.decode(codec.from_symbols(ch(s, snr_db), side))
            bundle.classify(x_hat).argmax(1)
    return time.perf_counter() - t0


def bench_flowgraph(bundle, num_images=1000, max_batch=64, snr_db=10.0, channel="awgn", quant_bits=0,
                    timeout_s=600.0, grc_path=None, progress=False) -> dict:
    """Images per second through the loopback flowgraph vs. the same model in a bare batched loop.

    Both process the same ``num_images`` test images with the same batch
    size; the bare loop runs encode -> symbol codec -> channel -> decode ->
    classify batch after batch (the flowgraph also scores PSNR in its
    metrics sink). The bare loop is timed with torch's default number of
    threads and with one thread, and the faster counts: on a busy machine
    torch's OpenMP threads can slow each other down several times over.

    Returns ``images_per_s_flowgraph``, ``images_per_s_bare``, ``ratio``
    (flowgraph / bare) and details.
    """
    import torch

    from . import common
    from semcom_core.data import load_dataset

    b = common.load_bundle(bundle)
    codec = common.make_codec(b, quant_bits)
    name, root = common.dataset_of(b)
    ds = load_dataset(name, split="test", root=root)
    n = min(int(num_images), len(ds))
    images, _ = ds.batch(range(n))
    _bare_loop(b, codec, images[: 2 * max_batch], snr_db, channel, max_batch)   # warm-up
    fg = run_loopback(bundle, snr_db, channel, n, "", timeout_s, quant_bits, max_batch, grc_path, progress)
    default_threads = torch.get_num_threads()
    bare_by_threads = {}
    try:
        for threads in sorted({default_threads, 1}, reverse=True):
            torch.set_num_threads(threads)
            bare_by_threads[threads] = n / _bare_loop(b, codec, images, snr_db, channel, max_batch)
    finally:
        torch.set_num_threads(default_threads)
    best_threads = max(bare_by_threads, key=bare_by_threads.get)
    fg_rate = fg["images_per_s"] if fg["complete"] else float("nan")
    bare_rate = bare_by_threads[best_threads]
    return {
        "images_per_s_flowgraph": fg_rate,
        "images_per_s_bare": bare_rate,
        "ratio": fg_rate / bare_rate,
        "num_images": n,
        "max_batch": int(max_batch),
        "flowgraph_s": fg["elapsed_s"],
        "flowgraph_complete": fg["complete"],
        "bare_threads": best_threads,
        "images_per_s_bare_by_threads": bare_by_threads,
        "psnr_flowgraph": fg["psnr"],
    }


# ---------------------------------------------------------------------------
# MIJSCC / A-MIJSCC with side information in the frame, SNR changing while running
# ---------------------------------------------------------------------------

def make_adaptive_snr(bundle, snrs=(6.0, 12.0, 18.0, 21.0), images_per_snr=100, channel="awgn", quant_bits=-1,
                      adaptive=True, out_path="", max_batch=64, grc_path=None):
    """Build (not start) the adaptive_snr top block with these parameters."""
    snrs = [float(x) for x in snrs]
    if not snrs or int(images_per_snr) < 1:
        raise ValueError("need at least one SNR and images_per_snr >= 1")
    cls = compiled_top_block(grc_path, ADAPTIVE_SNR_GRC)
    tb = cls(bundle=str(bundle), snrs=",".join(repr(x) for x in snrs), images_per_snr=int(images_per_snr),
             channel=str(channel), quant_bits=int(quant_bits), adaptive=int(bool(adaptive)),
             out_path=str(out_path or ""), max_batch=int(max_batch))
    available = tb.source.num_images()
    if available < tb.sink.num_images:
        tb.sink.set_num_images(available)
    return tb


def _all_accounted(tb, num: int) -> bool:
    """Every image sent or dropped by the transmitter, and every frame sent decoded or dropped."""
    sent = tb.tx.sent()
    return sent + tb.tx.dropped() >= num and tb.rx.decoded() + tb.rx.dropped() >= sent


def run_adaptive_snr(bundle, snrs=(6.0, 12.0, 18.0, 21.0), images_per_snr=100, channel="awgn", quant_bits=-1,
                     adaptive=True, out_path="", max_batch=64, timeout_s=600.0, grc_path=None,
                     progress=False) -> dict:
    """Run flowgraphs/adaptive_snr.grc headless: the SNR steps through ``snrs``, ``images_per_snr``
    images each; returns the statistics per step.

    Returns ``{"steps": [...], "summary": metrics summary (all images), "sent", "decoded",
    "dropped", "drop_reasons", "dropped_tx", "header_symbols", "k", "complete", "elapsed_s",
    "images_per_s"}``. Each step: ``snr_db`` (scheduled), ``sent`` (images given to the
    transmitter in the step), ``delivered``, ``dropped`` (sent - delivered), ``delivered_frac``,
    ``payload_symbols`` / ``symbols`` (mean per delivered image, without / with the header),
    ``gamma`` (mean end / k), ``accuracy`` and ``channel_snr_db`` (mean SNR the channel tagged on
    the step's frames; frames in flight at a change may get the next step's SNR).
    """
    tb = make_adaptive_snr(bundle, snrs, images_per_snr, channel, quant_bits, adaptive, out_path, max_batch,
                           grc_path)
    num = tb.sink.num_images
    show = _progress_printer(num, "adaptive snr") if progress is True else progress or None
    t0 = time.perf_counter()
    tb.start()
    try:
        deadline = t0 + float(timeout_s)
        while time.perf_counter() < deadline and not (tb.sink.done() or _all_accounted(tb, num)):
            tb.sink.wait_done(0.05)
            if show:
                show(tb.rx.decoded() + tb.rx.dropped(), time.perf_counter() - t0)
        elapsed = time.perf_counter() - t0
        # the last PDUs may still be on their way to the metrics sink
        wait_deadline = time.perf_counter() + 5.0
        while tb.sink.count() < tb.rx.decoded() and time.perf_counter() < wait_deadline:
            time.sleep(0.01)
    finally:
        tb.stop()
        tb.wait()
    summary = _finish(tb.sink, elapsed)
    summary["complete"] = bool(_all_accounted(tb, num))
    if show:
        show(tb.rx.decoded() + tb.rx.dropped(), elapsed, final=True)
    summary["record"] = tb.sink.record() if summary["count"] else None

    k = int(tb.rx.k)
    log = tb.rx.frame_log()
    steps = []
    per = int(images_per_snr)
    nsteps = (num + per - 1) // per
    for j in range(nsteps):
        lo, hi = j * per, min(num, (j + 1) * per)
        frames = [f for f in log if isinstance(f.get("index"), int) and lo <= f["index"] < hi]
        delivered = len(frames)
        sent = hi - lo
        ends = [f["end"] for f in frames]
        labelled = [f for f in frames if f.get("label") is not None]
        tagged = [f["snr_db"] for f in frames if isinstance(f.get("snr_db"), (int, float))]
        steps.append({
            "snr_db": tb.sched.snr_for_image(lo),
            "sent": sent,
            "delivered": delivered,
            "dropped": sent - delivered,
            "delivered_frac": delivered / sent if sent else float("nan"),
            "payload_symbols": float(np.mean(ends)) if ends else float("nan"),
            "symbols": float(np.mean([f["symbols"] for f in frames])) if frames else float("nan"),
            "gamma": float(np.mean(ends)) / k if ends else float("nan"),
            "accuracy": (sum(int(f["pred"] == f["label"]) for f in labelled) / len(labelled)
                         if labelled else float("nan")),
            "channel_snr_db": float(np.mean(tagged)) if tagged else float("nan"),
        })
    return {
        "steps": steps,
        "summary": summary,
        "sent": tb.tx.sent(),
        "decoded": tb.rx.decoded(),
        "dropped": tb.rx.dropped(),
        "drop_reasons": tb.rx.drop_reasons(),
        "dropped_tx": tb.tx.dropped(),
        "header_symbols": int(tb.tx.header_symbols),
        "k": k,
        "complete": summary["complete"],
        "elapsed_s": elapsed,
        "images_per_s": tb.tx.sent() / elapsed if elapsed > 0 else float("nan"),
    }


#: (name, quant_bits, adaptive) of the configurations ``bench_mijscc`` compares.
MIJSCC_BENCH_CONFIGS = (("analog", 0, False), ("8-bit", 8, False), ("A-MIJSCC 8-bit", 8, True))


def bench_mijscc(bundle, snrs=(6.0, 18.0), num_images=300, max_batch=64, channel="awgn", timeout_s=600.0,
                 grc_path=None, progress=False) -> list[dict]:
    """Symbols per image and images per second through adaptive_snr.grc (tx -> channel -> rx) for
    analog, 8-bit and A-MIJSCC 8-bit frames, each at every SNR of ``snrs`` (one run per point).

    Returns one row per point: ``config``, ``snr_db``, ``payload``, ``header``, ``total`` (mean
    symbols per image), ``gamma``, ``images_per_s``, ``delivered`` (fraction), ``psnr``,
    ``accuracy``, ``images``, ``complete``.
    """
    rows = []
    for name, quant_bits, adaptive in MIJSCC_BENCH_CONFIGS:
        for snr in snrs:
            r = run_adaptive_snr(bundle, snrs=(float(snr),), images_per_snr=int(num_images), channel=channel,
                                 quant_bits=quant_bits, adaptive=adaptive, max_batch=max_batch,
                                 timeout_s=timeout_s, grc_path=grc_path, progress=progress)
            (step,) = r["steps"]
            rows.append({
                "config": name, "snr_db": float(snr),
                "payload": step["payload_symbols"], "header": r["header_symbols"], "total": step["symbols"],
                "gamma": step["gamma"], "images_per_s": r["images_per_s"], "delivered": step["delivered_frac"],
                "psnr": r["summary"].get("psnr"), "accuracy": step["accuracy"], "images": step["sent"],
                "complete": r["complete"],
            })
    return rows


# ---------------------------------------------------------------------------
# OFDM flowgraphs (flowgraphs/ofdm_*.grc, hardware/usrp_*.grc)
#
# Their blocks have fixed names: source (image source), tx (MIJSCC transmitter), otx (OFDM
# transmitter), orx (OFDM receiver), rx (MIJSCC receiver), sink (metrics sink); a flowgraph has the
# ones of its role. The generated scripts run until interrupted; two Python snippets in each .grc call
# stop_when_idle (after start: stop by itself once done, with --idle-stop > 0) and print_report
# (after stop: one REPORT_PREFIX line of JSON on stdout), so that a launcher (hardware/ota.py, the
# tests) can run them as subprocesses and read what happened.
# ---------------------------------------------------------------------------

OFDM_LOOPBACK_GRC = "ofdm_loopback.grc"
REPORT_PREFIX = "SEMCOM_REPORT "
_OFDM_ROLES = ("source", "tx", "otx", "orx", "rx", "sink")


def _ofdm_blocks(tb) -> dict:
    return {name: getattr(tb, name, None) for name in _OFDM_ROLES}


def _ofdm_activity(b: dict) -> tuple:
    """Counters that change whenever something happens in the flowgraph."""
    out = []
    if b["tx"] is not None:
        out += [b["tx"].sent(), b["tx"].dropped()]
    if b["otx"] is not None:
        out += [b["otx"].sent(), b["otx"].dropped()]
    if b["orx"] is not None:
        out += [b["orx"].frames(), b["orx"].dropped()]
    if b["rx"] is not None:
        out += [b["rx"].decoded(), b["rx"].dropped()]
    if b["sink"] is not None:
        out.append(b["sink"].count())
    return tuple(out)


def _ofdm_sending_done(b: dict) -> bool:
    """The transmitter has handled every image (a flowgraph with one), or the receiver has seen a
    frame (a receiver alone)."""
    tx, source = b["tx"], b["source"]
    if tx is not None:
        total = source.num_images() if source is not None else 0
        handled = tx.sent() + tx.dropped()
        if handled < total:
            return False
        otx = b["otx"]
        return otx is None or otx.sent() + otx.dropped() >= tx.sent()
    orx = b["orx"]
    return orx is None or orx.frames() + orx.dropped() > 0


def _wait_ofdm(tb, idle_s: float, deadline: float | None = None, poll_s: float = 0.1, show=None,
               stop_event: threading.Event | None = None) -> str:
    """Wait until the metrics sink (if any) has every image ("done"), or, with ``idle_s`` > 0, the
    sending is over and nothing changed for ``idle_s`` seconds ("idle"), or the deadline ("timeout"),
    or ``stop_event`` is set ("stopped")."""
    b = _ofdm_blocks(tb)
    sink = b["sink"]
    idle_s = float(idle_s)
    last, changed = _ofdm_activity(b), time.monotonic()
    t0 = changed
    while True:
        if sink is not None and sink.done():
            return "done"
        if stop_event is not None and stop_event.is_set():
            return "stopped"
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return "timeout"
        act = _ofdm_activity(b)
        if act != last:
            last, changed = act, now
        elif idle_s > 0 and now - changed >= idle_s and _ofdm_sending_done(b):
            return "idle"
        if show and sink is not None:
            show(sink.count(), now - t0)
        if sink is not None:
            sink.wait_done(poll_s)
        else:
            time.sleep(poll_s)


def stop_when_idle(tb, idle_s, poll_s: float = 0.2):
    """Called by the OFDM flowgraphs' snippet after ``tb.start()``: a daemon thread that stops ``tb``
    once the metrics sink has every image or, with ``idle_s`` > 0, ``idle_s`` seconds after the last
    activity once the transmitter has sent every image (a receiver alone: once frames arrived).

    ``idle_s`` <= 0 leaves a flowgraph without a metrics sink running until it is interrupted.
    Returns the thread (None when there is nothing to watch)."""
    idle_s = float(idle_s or 0)
    b = _ofdm_blocks(tb)
    if idle_s <= 0 and b["sink"] is None:
        return None

    def watch():
        try:
            why = _wait_ofdm(tb, idle_s, poll_s=poll_s)
            print(f"semcom: stopping ({why})", file=sys.stderr, flush=True)
        except Exception as err:  # noqa: BLE001 - the watchdog must not take the process down
            print(f"semcom: idle watchdog failed: {err!r}", file=sys.stderr, flush=True)
            return
        tb.stop()

    thread = threading.Thread(target=watch, name="semcom-stop-when-idle", daemon=True)
    thread.start()
    return thread


def _snr_stats(values) -> dict:
    v = np.asarray([x for x in values if isinstance(x, (int, float)) and np.isfinite(x)], dtype=np.float64)
    if not v.size:
        return {"snr_db_mean": float("nan"), "snr_db_min": float("nan"), "snr_db_max": float("nan")}
    return {"snr_db_mean": float(v.mean()), "snr_db_min": float(v.min()), "snr_db_max": float(v.max())}


def ofdm_report(tb) -> dict:
    """What an OFDM flowgraph did: per block role its counters, the OFDM receiver's estimated SNR and
    the metrics sink's summary (``metrics``)."""
    b = _ofdm_blocks(tb)
    out: dict = {"flowgraph": type(tb).__name__}
    if b["source"] is not None:
        out["source"] = {"images": b["source"].num_images(), "emitted": b["source"].emitted()}
    if b["tx"] is not None:
        tx = b["tx"]
        sent = tx.sent()
        out["tx"] = {"sent": sent, "dropped": tx.dropped(), "drop_reasons": tx.drop_reasons(),
                     "payload_symbols_per_image": tx.payload_symbols_sent() / sent if sent else float("nan")}
    if b["otx"] is not None:
        otx = b["otx"]
        out["ofdm_tx"] = {"bursts": otx.sent(), "dropped": otx.dropped(), "drop_reasons": otx.drop_reasons()}
    if b["orx"] is not None:
        orx = b["orx"]
        out["ofdm_rx"] = {"frames": orx.frames(), "headers_ok": orx.headers_ok(),
                          "header_failures": orx.header_failures(), "drop_reasons": orx.drop_reasons(),
                          "bad_samples": orx.bad_samples(), **_snr_stats(orx.snr_estimates())}
    if b["rx"] is not None:
        rx = b["rx"]
        out["rx"] = {"decoded": rx.decoded(), "dropped": rx.dropped(), "drop_reasons": rx.drop_reasons()}
    if b["sink"] is not None:
        out["metrics"] = b["sink"].summary()
    return out


def print_report(tb, file=None) -> None:
    """Called by the OFDM flowgraphs' snippet after the flowgraph stopped: ``ofdm_report`` as one line
    ``SEMCOM_REPORT {json}`` on stdout (``parse_reports`` reads it back)."""
    import json

    try:
        line = REPORT_PREFIX + json.dumps(ofdm_report(tb), default=str)
    except Exception as err:  # noqa: BLE001 - a report failure must not hide the run's own output
        line = REPORT_PREFIX + json.dumps({"flowgraph": type(tb).__name__, "error": repr(err)})
    print(line, file=file or sys.stdout, flush=True)


def parse_reports(text: str) -> list[dict]:
    """The ``print_report`` dictionaries in a script's output, oldest first."""
    import json

    out = []
    for line in str(text).splitlines():
        if line.startswith(REPORT_PREFIX):
            try:
                out.append(json.loads(line[len(REPORT_PREFIX):]))
            except ValueError:
                pass
    return out


def make_ofdm_loopback(bundle, snr_db=30.0, cfo=0.0, epsilon=1.0, taps="1", num_images=100, out_path="",
                       fft_len=64, cp_len=16, seed=0, quant_bits=-1, adaptive=True, max_batch=16, amplitude=1.0,
                       threshold=0.6, grc_path=None):
    """Build (not start) the ofdm_loopback top block. ``taps``: comma-separated complex taps (a string)
    or a sequence of numbers."""
    if not isinstance(taps, str):
        taps = ",".join(repr(complex(t)) for t in taps)
    cls = compiled_top_block(grc_path, OFDM_LOOPBACK_GRC)
    tb = cls(bundle=str(bundle), snr_db=float(snr_db), cfo=float(cfo), epsilon=float(epsilon), taps=taps,
             num_images=int(num_images), out_path=str(out_path or ""), fft_len=int(fft_len), cp_len=int(cp_len),
             seed=int(seed), quant_bits=int(quant_bits), adaptive=int(bool(adaptive)), max_batch=int(max_batch),
             amplitude=float(amplitude), threshold=float(threshold), idle_stop=0.0)
    available = tb.source.num_images()
    if available < tb.sink.num_images:
        tb.sink.set_num_images(available)
    return tb


def run_ofdm_loopback(bundle, snr_db=30.0, cfo=0.0, epsilon=1.0, taps="1", num_images=100, out_path="",
                      timeout_s=600.0, idle_s=5.0, fft_len=64, cp_len=16, seed=0, quant_bits=-1, adaptive=True,
                      max_batch=16, amplitude=1.0, threshold=0.6, grc_path=None, progress=False) -> dict:
    """Run flowgraphs/ofdm_loopback.grc headless once (in this process).

    Stops when the metrics sink has every image, or ``idle_s`` seconds after the last activity once
    every image was sent (frames lost on the way never arrive), or at ``timeout_s``. Returns the
    metrics summary (as :func:`run_loopback`) plus ``ofdm`` (:func:`ofdm_report`), ``stopped``
    ("done", "idle" or "timeout") and ``decoded`` / ``sent`` (frames).
    """
    tb = make_ofdm_loopback(bundle, snr_db, cfo, epsilon, taps, num_images, out_path, fft_len, cp_len, seed,
                            quant_bits, adaptive, max_batch, amplitude, threshold, grc_path)
    num = tb.sink.num_images
    show = _progress_printer(num, f"ofdm loopback {float(snr_db):g} dB") if progress is True else progress or None
    t0 = time.perf_counter()
    tb.start()
    try:
        why = _wait_ofdm(tb, idle_s, time.monotonic() + float(timeout_s), show=show)
        elapsed = time.perf_counter() - t0
    finally:
        tb.stop()
        tb.wait()
    summary = _finish(tb.sink, elapsed)
    if show:
        show(summary["count"], elapsed, final=True)
    summary["stopped"] = why
    summary["sent"] = tb.tx.sent()
    summary["decoded"] = tb.rx.decoded()
    summary["ofdm"] = ofdm_report(tb)
    summary["record"] = tb.sink.record() if summary["count"] else None
    return summary


# -- generated scripts as processes -----------------------------------------------------------------

def free_tcp_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (for ZMQ addresses in tests)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def script_options(**values) -> list[str]:
    """Command-line options of a GRC-generated script: ``snr_db=20`` -> ``["--snr-db", "20"]``
    (GRC turns parameter ids into ``--id-with-dashes``). None values are left out."""
    out = []
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = int(value)
        out += [f"--{key.replace('_', '-')}", str(value)]
    return out


def start_script(py_path, options=(), log_path=None, python=None, env=None) -> subprocess.Popen:
    """Start a generated flowgraph script (``compile_grc``'s output) with ``python`` (default: this
    interpreter, which has torch and semcom_core) and ``options``; stdout and stderr go to
    ``log_path`` (default: a pipe). Stop it with :func:`stop_script`."""
    cmd = [python or sys.executable, "-u", str(py_path), *[str(o) for o in options]]
    out = open(log_path, "w") if log_path else subprocess.PIPE   # noqa: SIM115 - closed by the process's end
    try:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, text=True)
    finally:
        if log_path:
            out.close()


def stop_script(proc: subprocess.Popen, timeout_s: float = 20.0) -> int:
    """Stop a script from :func:`start_script`: SIGINT (the generated scripts stop the flowgraph,
    write their records and print their report), then SIGTERM and SIGKILL if it does not end within
    ``timeout_s``. Returns its exit status."""
    import signal

    if proc.poll() is not None:
        return proc.returncode
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            break
        try:
            return proc.wait(timeout=float(timeout_s) if sig == signal.SIGINT else 5.0)
        except subprocess.TimeoutExpired:
            continue
    proc.kill()
    return proc.wait(timeout=10)


def read_records(path) -> list[dict]:
    """Result records (JSON lines) in ``path``; [] when it does not exist yet."""
    import json

    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def wait_for_record(path, timeout_s: float = 120.0, procs=(), poll_s: float = 0.2):
    """Wait until ``path`` holds a result record (a metrics sink writes one when it has every image,
    or when its flowgraph stops); returns the newest record, or None at the deadline or when one of
    ``procs`` (the receiver's process) has ended without writing one."""
    deadline = time.monotonic() + float(timeout_s)
    while True:
        records = read_records(path)
        if records:
            return records[-1]
        if time.monotonic() >= deadline or any(p.poll() is not None for p in procs):
            records = read_records(path)
            return records[-1] if records else None
        time.sleep(poll_s)


def mijscc_reference(bundle, num_images, snr_db, mask_snr_db=None, quant_bits=-1, adaptive=True, seeds=(0, 1, 2),
                     start_index=0) -> dict:
    """What the OFDM flowgraphs' link gives when simulated at the symbol level with semcom_core alone.

    The same bundle and test images (``start_index`` on), ``Bundle.transmit`` with the A-MIJSCC mask
    told ``mask_snr_db`` (default ``snr_db``), AWGN at ``snr_db`` on every payload, side information
    delivered intact, ``Bundle.receive``. Returns ``psnr`` (mean over the images, then over
    ``seeds``), ``psnr_by_seed``, ``accuracy`` and ``payload_symbols`` (mean per image).
    """
    import torch

    from semcom_core.channels import make_channel
    from semcom_core.data import load_dataset
    from semcom_core.metrics import psnr as psnr_fn

    from . import common

    b = common.load_bundle(bundle)
    codec = common.make_codec(b, quant_bits)
    name, root = common.dataset_of(b)
    ds = load_dataset(name, split="test", root=root)
    stop = min(len(ds), int(start_index) + int(num_images))
    images, labels = ds.batch(range(int(start_index), stop))
    mask_snr = float(snr_db if mask_snr_db is None else mask_snr_db)
    with torch.no_grad():
        frames = b.transmit(images, noise_var=10 ** (-mask_snr / 10), codec=codec, adaptive=bool(adaptive))
        by_seed, correct = [], 0
        for seed in seeds:
            ch = make_channel("awgn", generator=torch.Generator().manual_seed(int(seed)))
            received = [(ch(torch.from_numpy(p)[None], float(snr_db))[0].numpy(), info) for p, info in frames]
            x_hat, pred = b.receive(received, codec=codec)
            by_seed.append(float(psnr_fn(images, torch.from_numpy(x_hat)).mean()))
            correct += int((torch.from_numpy(pred) == labels).sum())
    return {"psnr": float(np.mean(by_seed)), "psnr_by_seed": by_seed,
            "accuracy": correct / (len(frames) * len(seeds)),
            "payload_symbols": float(np.mean([len(p) for p, _ in frames]))}
