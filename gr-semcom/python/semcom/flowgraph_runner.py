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
