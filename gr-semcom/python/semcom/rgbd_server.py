#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The server of the multi-modal system: pairs what the devices sent of each sample, fuses and classifies."""

from __future__ import annotations

import collections
import sys
import threading
import time

import numpy as np
import pmt
from gnuradio import gr

from .base.bundles import load_multimodal
from .base.log import OnceLog, RecordOnce, Worker, use_torch_threads
from .base.pdu import make_pdu, parse_pdu, register_ports

#: Sample indices remembered as decided: a frame arriving for one of them is late, dropped and counted.
DECIDED_MAX = 100_000


class rgbd_server(gr.basic_block):
    """Wait for every device's frame of a sample, then classify the fused features.

    Message input ``in``: the PDUs of ``rgbd_device_rx`` (one per device and sample, matched by ``index``).
    Optional message input ``ref``: the source's sample PDUs (``index``, ``label``), for links whose frames
    lose their ``label`` tag on the way (the OFDM burst header carries the index only).
    A sample is classified once every device's frame is in (in batches: at once when ``max_batch`` samples
    are complete, else within 10 ms), or from the devices heard once each missing device's frame is known
    lost: that device's latest frame is of a later sample (links deliver in order), or it has been silent for
    ``timeout_ms`` and the sample has waited that long. A device that is behind but still sending is waited
    for, so a backlog on one device's chain is not mistaken for loss. The missing device's features are
    replaced by their mean (``semcom_core.link.multidevice.server_classify``), and the loss is counted per
    device (``lost_frames()``). A frame that arrives after its sample was decided is dropped as "late".
    Message output ``pdu``: per sample ``cons({index, label, pred, heard, fallback}, f32vector of class
    probabilities)``. ``stop()`` classifies what is still waiting and prints a summary.

    Getters: ``classified()``, ``accuracy()``, ``fallbacks()`` (samples classified without every device),
    ``lost_frames()`` (per device), ``dropped()`` (unreadable PDUs), ``summary()``.

    Args:
        bundle_path: the multi-modal bundle; timeout_ms: how long a sample waits for its other devices;
        max_batch: samples classified in one forward pass; torch_threads: as for the receivers.
        num_samples, out_path, channel: once ``num_samples`` are classified (or at stop), one result record
            (accuracy, fallbacks, lost frames; ``channel`` as its label) is appended to ``out_path``, a
            JSON-lines file (empty: none), for a server running in a process of its own.
    """

    def __init__(self, bundle_path="", timeout_ms=500.0, max_batch=64, torch_threads=1, num_samples=0, out_path="",
                 channel="awgn"):
        gr.basic_block.__init__(self, name="semcom_rgbd_server", in_sig=None, out_sig=None)
        self.system, self.card = load_multimodal(bundle_path)
        self.num_samples, self.out_path, self.channel_label = max(0, int(num_samples)), str(out_path or ""), str(channel)
        self.timeout = max(0.0, float(timeout_ms)) / 1000.0
        self.max_batch = max(1, int(max_batch))
        self.torch_threads = int(torch_threads)
        self._lock = threading.Lock()
        self._waiting: dict = {}          # index -> {"t": first arrival, "label": ..., modality: (payload, side)}
        self._decided: collections.OrderedDict = collections.OrderedDict()   # recent indices already classified
        self._labels: collections.OrderedDict = collections.OrderedDict()    # index -> label, from the ref port
        self._complete = 0                # waiting samples that every device's frame reached
        self._latest = {m: None for m in self.system.modalities}         # device -> index of its latest frame
        self._heard_at = {m: None for m in self.system.modalities}       # device -> when its latest frame came
        self._lost = {m: 0 for m in self.system.modalities}
        self._classified = self._correct = self._labelled = self._fallbacks = 0
        self._log = OnceLog(f"semcom_rgbd_server{self.unique_id()}")
        self._record = RecordOnce(self.out_path, self._log)
        self._port = pmt.intern("pdu")
        register_ports(self, {"in": self._handle, "ref": self._handle_ref}, ["pdu"])
        self._worker = Worker("semcom_rgbd_server", self._tick)

    # -- getters -------------------------------------------------------------------------------------
    def classified(self) -> int:
        return self._classified

    def accuracy(self) -> float:
        return self._correct / self._labelled if self._labelled else float("nan")

    def fallbacks(self) -> int:
        return self._fallbacks

    def lost_frames(self) -> dict:
        return dict(self._lost)

    def dropped(self) -> int:
        return self._log.total()

    def summary(self) -> dict:
        return {"classified": self._classified, "accuracy": self.accuracy(), "fallbacks": self._fallbacks,
                "lost_frames": self.lost_frames(), "dropped": self.dropped(), "waiting": len(self._waiting)}

    # -- messages ------------------------------------------------------------------------------------
    def _handle(self, msg):
        from semcom_core.symbols import SideInfo

        try:
            meta, values = parse_pdu(msg)
            modality, index = meta.get("modality"), meta.get("index")
            if modality not in self.system.modalities or not isinstance(index, int):
                self._log.problem("unmatchable PDU", f"modality {modality!r}, index {index!r}")
                return
            payload = values.reshape(-1, 2) @ np.array([1.0, 1.0j], np.complex64) if values.size % 2 == 0 else None
            if payload is None or len(payload) != self.system.k // 2:
                self._log.problem("wrong feature size", f"{values.size} values from {modality}")
                return
            with self._lock:
                self._latest[modality], self._heard_at[modality] = index, time.monotonic()
                if index in self._decided:
                    self._log.problem("late frame", f"{modality} frame of sample {index} after its decision")
                    return
                sample = self._waiting.setdefault(index, {"t": time.monotonic(), "label": meta.get("label")})
                sample[modality] = (payload.astype(np.complex64), SideInfo.from_tags({}, frame_length=len(payload)))
                if all(m in sample for m in self.system.modalities):
                    self._complete += 1
                batch_ready = self._complete >= self.max_batch
            if batch_ready:     # a full batch now; fewer wait for the next tick (10 ms)
                self._classify_ready(force=False)
        except Exception as err:  # noqa: BLE001 - a bad message is counted, never raised
            self._log.problem("bad PDU", repr(err))

    def _handle_ref(self, msg):
        try:
            meta, _ = parse_pdu(msg)
            index, label = meta.get("index"), meta.get("label")
            if not isinstance(index, int) or not isinstance(label, int):
                self._log.problem("unusable reference", f"index {index!r}, label {label!r}")
                return
            with self._lock:
                self._labels[index] = label
                while len(self._labels) > DECIDED_MAX:
                    self._labels.popitem(last=False)
        except Exception as err:  # noqa: BLE001 - a bad message is counted, never raised
            self._log.problem("bad reference PDU", repr(err))

    def _classify_ready(self, force: bool) -> None:
        """Classify the complete samples and those whose missing frames are known lost (with ``force``: all)."""
        now = time.monotonic()
        with self._lock:
            ready = [i for i, s in self._waiting.items() if force or self._decidable(i, s, now)]
            samples = [(i, self._waiting.pop(i)) for i in ready]
            self._complete = sum(all(m in s for m in self.system.modalities) for s in self._waiting.values())
            for i in ready:
                self._decided[i] = None
            while len(self._decided) > DECIDED_MAX:
                self._decided.popitem(last=False)
        for lo in range(0, len(samples), self.max_batch):
            self._classify(samples[lo: lo + self.max_batch])

    def _decidable(self, index: int, sample: dict, now: float) -> bool:
        """Whether every device missing from ``sample`` has lost its frame: it sent a later sample's frame
        since, or it has been silent for the timeout and the sample has waited that long."""
        for m in self.system.modalities:
            if m in sample:
                continue
            moved_on = self._latest[m] is not None and self._latest[m] > index
            silent_since = max(sample["t"], self._heard_at[m] or sample["t"])
            if not moved_on and now - silent_since < self.timeout:
                return False
        return True

    def _classify(self, samples) -> None:
        from semcom_core.link.multidevice import server_classify

        use_torch_threads(self.torch_threads)
        received = {m: [s.get(m) for _, s in samples] for m in self.system.modalities}
        try:
            probs = server_classify(self.system, received).softmax(1).numpy()
        except Exception as err:  # noqa: BLE001 - a failing batch is counted, the flowgraph goes on
            self._log.problem("server failure", repr(err))
            return
        for (index, sample), p in zip(samples, probs):
            heard = [m for m in self.system.modalities if m in sample]
            fallback = len(heard) < len(self.system.modalities)
            for m in self.system.modalities:
                if m not in sample:
                    self._lost[m] += 1
            pred = int(p.argmax())
            label = sample.get("label")
            with self._lock:
                if not isinstance(label, int):
                    label = self._labels.pop(index, None)
                self._classified += 1
                self._fallbacks += int(fallback)
                if isinstance(label, int):
                    self._labelled += 1
                    self._correct += int(pred == label)
            meta = {"index": index, "pred": pred, "heard": ",".join(heard), "fallback": fallback}
            if isinstance(label, int):
                meta["label"] = label
            self.message_port_pub(self._port, make_pdu(meta, p))
        if self.num_samples and self._classified >= self.num_samples:
            self._write_record()

    def record(self) -> dict:
        """The result record of this run (``semcom_core.records.make_record``, source "flowgraph")."""
        from semcom_core.records import make_record

        snr = self.card.get("snr_db")
        return make_record(str(self.card.get("method", "unknown")), str(self.card["dataset"]["name"]),
                           self.channel_label, float("nan"), float("nan"), {"accuracy": self.accuracy()},
                           samples=self._classified, seed=0, source="flowgraph", fallbacks=self._fallbacks,
                           lost_frames=self.lost_frames(), dropped=self.dropped(), trained_snr_db=snr)

    def _write_record(self) -> None:
        if self._classified:
            self._record.write(self.record)

    def _tick(self, stop):
        """Every 10 ms: classify the samples whose wait is over."""
        while not stop.wait(0.01):
            try:
                self._classify_ready(force=False)
            except Exception as err:  # noqa: BLE001 - keep ticking
                self._log.problem("server failure", repr(err))

    # -- scheduler hooks -------------------------------------------------------------------------------
    def start(self):
        return self._worker.start()

    def stop(self):
        self._worker.stop(timeout=2.0)
        self._classify_ready(force=True)
        self._write_record()
        s = self.summary()
        if s["classified"]:
            lost = ", ".join(f"{m} {n}" for m, n in s["lost_frames"].items())
            print(f"semcom rgbd server: {s['classified']} samples, accuracy {100 * s['accuracy']:.1f} %, "
                  f"{s['fallbacks']} from one device only (frames lost: {lost}), {s['dropped']} dropped",
                  file=sys.stderr, flush=True)
        return True
