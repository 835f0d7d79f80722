#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The symbol-level flowgraphs headless: the semantic loopback, semantic beside digital, the SNR schedule,
and the demo (``semcom demo``)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from .grc import ADAPTIVE_SNR_GRC, SIDE_BY_SIDE_GRC, compiled_top_block
from .run import finish, progress_printer, run_top_block, run_until_done


def make_loopback(bundle, snr_db=10.0, channel="awgn", num_images=200, out_path="", quant_bits=0,
                  max_batch=64, grc_path=None, precision="auto", data_root=""):
    """Build (not start) the semantic_loopback top block with these parameters (``data_root``: the image
    source's dataset folder, empty for the bundle card's; ``precision``: the networks' arithmetic)."""
    cls = compiled_top_block(grc_path)
    tb = cls(bundle=str(bundle), snr_db=float(snr_db), channel=str(channel), num_images=int(num_images),
             out_path=str(out_path or ""), quant_bits=int(quant_bits), max_batch=int(max_batch),
             precision=str(precision), data_root=str(data_root or ""))
    available = tb.source.num_images()
    if available < int(num_images):   # the split has fewer images than asked for
        tb.sink.set_num_images(available)
    return tb


def run_loopback(bundle, snr_db=10.0, channel="awgn", num_images=200, out_path="", timeout_s=600.0,
                 quant_bits=0, max_batch=64, grc_path=None, progress=False, precision="auto", data_root="") -> dict:
    """Run flowgraphs/semantic_loopback.grc headless once; returns the metrics summary.

    Keys: method, dataset, channel, ratio, seed, snr_db, count, psnr,
    psnr_std, ssim, accuracy, unmatched_ref, unmatched_rx, problems,
    complete, elapsed_s, images_per_s, dropped_tx, dropped_rx and record
    (the result record; None when nothing arrived). With ``out_path`` the
    record (source "flowgraph") is appended there.
    ``progress``: True prints a progress line to stderr. ``precision``, ``data_root``: see
    :func:`make_loopback`.
    """
    tb = make_loopback(bundle, snr_db, channel, num_images, out_path, quant_bits, max_batch, grc_path, precision,
                       data_root)
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
    show = progress_printer(num, f"side by side {channel} {float(snr_db):g} dB") if progress is True \
        else progress or None
    elapsed = run_until_done(tb, [tb.sink, tb.dsink], timeout_s, show)
    semantic, dig = finish(tb.sink, elapsed), finish(tb.dsink, elapsed)
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
         quant_bits=0, max_batch=64, timeout_s=600.0, progress=True, compare_eval=True, data_root="") -> list[dict]:
    """Run the loopback flowgraph at several SNRs; records, a table and a plot.

    Appends one record per SNR (source "flowgraph") to ``<out_dir>/flowgraph.jsonl``. With
    ``compare_eval`` the same points are also computed by ``semcom eval`` (semcom_core alone, same
    bundle, images and channel) into ``<out_dir>/eval.jsonl``, so table and plot show both.
    Prints the table and writes ``<out_dir>/flowgraph.png``. Returns the flowgraph summaries.
    """
    from semcom_core.records import append_records, print_table

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records_path = out_dir / "flowgraph.jsonl"
    summaries, records = [], []
    for snr in snrs:
        s = run_loopback(bundle, snr, channel, num_images, str(records_path), timeout_s, quant_bits, max_batch,
                         progress=progress, data_root=data_root)
        summaries.append(s)
        if s.get("record"):
            records.append(s["record"])
        if not s["complete"]:
            print(f"flowgraph at {float(snr):g} dB: only {s['count']} of {num_images} images within "
                  f"{timeout_s:g} s", file=sys.stderr)
    if compare_eval and quant_bits == 0:
        from semcom_core.bundles.evaluate import evaluate_bundle

        from ..base.bundles import load_bundle, resolve_bundle_path

        eval_records = evaluate_bundle(load_bundle(resolve_bundle_path(bundle)), channel, [float(x) for x in snrs],
                                       samples=num_images, progress=progress, data_root=data_root or None)
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
    show = progress_printer(num, "adaptive snr") if progress is True else progress or None
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
    summary = finish(tb.sink, elapsed)
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
