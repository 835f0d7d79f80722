#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The OFDM flowgraphs (``flowgraphs/ofdm_*.grc``, ``hardware/usrp_*.grc``): stopping them when idle, their
reports, and the OFDM loopback headless.

Their blocks have fixed names: source (image source), tx (MIJSCC transmitter), otx (OFDM transmitter),
orx (OFDM receiver), rx (MIJSCC receiver), sink (metrics sink); a flowgraph has the ones of its role. The
generated scripts run until interrupted; two Python snippets in each .grc call :func:`stop_when_idle`
(after start: stop by itself once done, with --idle-stop > 0) and :func:`print_report` (after stop: one
``REPORT_PREFIX`` line of JSON on stdout), so that a launcher (``hardware/ota.py``, the tests) can run them as
subprocesses (:mod:`.process`) and read what happened.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np

from .grc import OFDM_LOOPBACK_GRC, compiled_top_block
from .run import finish, progress_printer


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
        out["ofdm_tx"] = {"images": otx.sent(), "bursts": otx.bursts(), "samples": otx.samples_sent(),
                          "dropped": otx.dropped(), "drop_reasons": otx.drop_reasons()}
    if b["orx"] is not None:
        orx = b["orx"]
        out["ofdm_rx"] = {"frames": orx.frames(), "bursts": orx.bursts(), "latency_ms": orx.latency_stats(),
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
                       threshold=0.45, grc_path=None):
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
                      max_batch=16, amplitude=1.0, threshold=0.45, grc_path=None, progress=False) -> dict:
    """Run flowgraphs/ofdm_loopback.grc headless once (in this process).

    Stops when the metrics sink has every image, or ``idle_s`` seconds after the last activity once
    every image was sent (frames lost on the way never arrive), or at ``timeout_s``. Returns the
    metrics summary (as :func:`run_loopback`) plus ``ofdm`` (:func:`ofdm_report`), ``stopped``
    ("done", "idle" or "timeout") and ``decoded`` / ``sent`` (frames).
    """
    tb = make_ofdm_loopback(bundle, snr_db, cfo, epsilon, taps, num_images, out_path, fft_len, cp_len, seed,
                            quant_bits, adaptive, max_batch, amplitude, threshold, grc_path)
    num = tb.sink.num_images
    show = progress_printer(num, f"ofdm loopback {float(snr_db):g} dB") if progress is True else progress or None
    t0 = time.perf_counter()
    tb.start()
    try:
        why = _wait_ofdm(tb, idle_s, time.monotonic() + float(timeout_s), show=show)
        elapsed = time.perf_counter() - t0
    finally:
        tb.stop()
        tb.wait()
    summary = finish(tb.sink, elapsed)
    if show:
        show(summary["count"], elapsed, final=True)
    summary["stopped"] = why
    summary["sent"] = tb.tx.sent()
    summary["decoded"] = tb.rx.decoded()
    summary["ofdm"] = ofdm_report(tb)
    summary["record"] = tb.sink.record() if summary["count"] else None
    return summary


# -- generated scripts as processes -----------------------------------------------------------------
