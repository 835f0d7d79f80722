#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Task metrics sink: each MFMSC task scored with its own metric."""

from __future__ import annotations

import math
import sys
import threading

import numpy as np
from gnuradio import gr

from .base.log import OnceLog, RecordOnce
from .base.pdu import parse_pdu, register_ports


class task_metrics_sink(gr.basic_block):
    """Match received task outputs to the sent instances and score every task with its metric.

    Message inputs: ``ref`` (instances from ``mfmsc_source``: ``task``, ``kind``, ``index``, ``reference``,
    ``outputs``) and ``rx`` (``mfmsc_rx`` outputs: ``task``, ``index``, ``pred`` or the image). PDUs are
    matched by (task, index) in whichever order they come. Metrics, as the library scores them
    (``semcom_core.metrics.tasks.TaskScore``): accuracy (classification, VQA), F1 (poster labels), BLEU
    (text reconstruction), word accuracy (speech recognition), PSNR (image reconstruction).

    Args:
        bundle_path: MFMSC bundle whose card names the method for the records (optional).
        out_path: JSON-lines file to append one record per task to (``source="flowgraph"``); empty: none.
        channel: channel name for the records.
        snr_db: SNR for the records; NaN takes the ``snr_db`` the channel block put into the metadata.
        num_instances: pairs expected; ``done()`` turns true when they are in, and the records are written
            then (or at ``stop()`` if fewer arrived). 0: the ``total`` the source puts in its metadata.
        seed: seed recorded with the results.

    Getters: ``count()`` (matched pairs), ``done()``, ``summary()`` (per task: metric, value, instances
    scored), ``records()``. Unreadable PDUs, and matched pairs that cannot be scored (an image of the wrong
    size or with NaN, a prediction or reference missing), are counted (``problems`` in the summary), never
    raised; the latter still count towards ``done()``.
    """

    def __init__(self, bundle_path="", out_path="", channel="awgn", snr_db=float("nan"), num_instances=0, seed=0):
        gr.basic_block.__init__(self, name="semcom_task_metrics_sink", in_sig=None, out_sig=None)
        method = "unknown"
        if str(bundle_path).strip():
            from .base.bundles import load_mfmsc

            method = str(load_mfmsc(bundle_path)[1].get("method", "unknown"))
        self.labels = {"method": method, "channel": str(channel), "seed": int(seed)}
        self._snr_param = float(snr_db)
        self.out_path = str(out_path or "")
        self.num_instances = max(0, int(num_instances))
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._waiting = {"ref": {}, "rx": {}}     # (task, index) -> (meta, values) waiting for its partner
        self._scores: dict = {}                    # task -> TaskScore
        self._symbols: dict = {}                   # task -> channel symbols of its frames
        self._snr_seen: list = []
        self._count = 0
        self._log = OnceLog(f"semcom_task_metrics_sink{self.unique_id()}")
        self._record = RecordOnce(self.out_path, self._log)
        register_ports(self, {"ref": self._handle_ref, "rx": self._handle_rx})

    # -- message handling ----------------------------------------------------
    def _handle_ref(self, msg):
        self._guarded("ref", msg)

    def _handle_rx(self, msg):
        self._guarded("rx", msg)

    def _guarded(self, side: str, msg) -> None:
        try:
            self._on_pdu(side, msg)
        except Exception as err:  # noqa: BLE001 - a bad message must not stop the flowgraph
            self._log.problem(f"{side} message failed", repr(err))

    def _on_pdu(self, side: str, msg) -> None:
        try:
            meta, values = parse_pdu(msg)
        except ValueError as err:
            self._log.problem(f"bad {side} message", str(err))
            return
        if "task" not in meta or "index" not in meta:
            self._log.problem(f"{side} PDU without task or index", "cannot match it")
            return
        if side == "ref" and not self.num_instances and isinstance(meta.get("total"), int):
            self.num_instances = max(0, meta["total"])
        key = (meta["task"], meta["index"])
        other = "rx" if side == "ref" else "ref"
        with self._lock:
            partner = self._waiting[other].pop(key, None)
            if partner is None:
                self._waiting[side][key] = (meta, values)
            else:
                ref, rx = ((meta, values), partner) if side == "ref" else (partner, (meta, values))
                self._score(ref, rx)
        if self.num_instances and self._count >= self.num_instances and not self._done.is_set():
            self._done.set()
            self._write_records()

    def _score(self, ref, rx) -> None:
        """Score one (sent, received) pair. Called with the lock held."""
        from semcom_core.link.multitask import mask_to_labels
        from semcom_core.metrics.tasks import TaskScore

        (ref_meta, ref_values), (rx_meta, rx_values) = ref, rx
        task, kind = ref_meta["task"], ref_meta.get("kind")
        self._count += 1             # a matched pair counts towards done() even when it cannot be scored
        score = self._scores.get(task)
        if score is None:
            score = self._scores[task] = TaskScore(kind)
        if kind == "image_recon":
            if ref_values.size != rx_values.size or not np.isfinite(rx_values).all():
                self._log.problem("unscorable image", f"{task} {ref_meta['index']}: wrong size or NaN")
                return
            score.add_predictions(rx_values.reshape(1, 1, -1), ref_values.reshape(1, 1, -1))
        elif "pred" not in rx_meta or "reference" not in ref_meta:
            self._log.problem("missing prediction or reference", f"{task} {ref_meta['index']}")
            return
        elif kind == "multilabel":
            count = int(ref_meta.get("outputs", 0))
            score.add_predictions(mask_to_labels(rx_meta["pred"], count)[None],
                                  mask_to_labels(ref_meta["reference"], count)[None])
        else:
            score.add_predictions([rx_meta["pred"]], [ref_meta["reference"]])
        self._symbols[task] = self._symbols.get(task, 0) + int(rx_meta.get("symbols", 0))
        snr = rx_meta.get("snr_db")
        if isinstance(snr, (int, float)) and not isinstance(snr, bool):
            self._snr_seen.append(float(snr))

    # -- getters ----------------------------------------------------------------
    def count(self) -> int:
        return self._count

    def done(self) -> bool:
        return self._done.is_set()

    def wait_done(self, timeout=None) -> bool:
        return self._done.wait(timeout)

    def set_num_instances(self, num_instances) -> None:
        self.num_instances = max(0, int(num_instances))

    def snr_db(self) -> float:
        if math.isnan(self._snr_param) and self._snr_seen:
            return float(np.mean(self._snr_seen))
        return self._snr_param

    def summary(self) -> dict:
        """``{count, problems, unmatched_ref, unmatched_rx, snr_db, tasks: {task: {metric, value, count,
        symbols_per_instance}}}``."""
        with self._lock:
            tasks = {task: {"metric": s.metric, "value": s.value(), "count": s.count,
                            "symbols_per_instance": self._symbols.get(task, 0) / s.count}
                     for task, s in self._scores.items() if s.count}
            return {**self.labels, "snr_db": self.snr_db(), "count": self._count, "problems": self._log.total(),
                    "unmatched_ref": len(self._waiting["ref"]), "unmatched_rx": len(self._waiting["rx"]),
                    "tasks": tasks}

    def records(self) -> list[dict]:
        """One result record per task (``semcom_core.records.make_record``, ``source="flowgraph"``)."""
        from semcom_core.records import make_record

        s = self.summary()
        return [make_record(s["method"], "mfmsc-embedded", s["channel"], s["snr_db"], 0.0,
                            {t["metric"]: t["value"]}, samples=t["count"], seed=s["seed"], source="flowgraph",
                            task=task, metric=t["metric"], symbols_per_instance=t["symbols_per_instance"])
                for task, t in s["tasks"].items()]

    def _write_records(self) -> None:
        if self._count:
            self._record.write(self.records)

    def stop(self):
        self._write_records()
        try:
            s = self.summary()
            if s["count"]:
                parts = [f"{task} {t['metric']} {t['value']:.4g} ({t['count']})" for task, t in s["tasks"].items()]
                print(f"semcom task metrics: {s['count']} instances; {', '.join(parts)}; {s['problems']} problems",
                      file=sys.stderr, flush=True)
        except Exception:  # noqa: BLE001 - a summary must not take the flowgraph down
            pass
        return True
