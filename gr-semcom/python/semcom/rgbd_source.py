#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Multi-modal samples (RGB and depth of one scene) as PDUs, one port per device."""

from __future__ import annotations

import threading

import numpy as np
import pmt
from gnuradio import gr

from .base.bundles import load_multimodal
from .base.log import Worker
from .base.pdu import make_pdu

#: The devices this source can feed, its output ports.
PORTS = ("rgb", "depth")


class rgbd_source(gr.basic_block):
    """Emit the test (or train) samples of a multi-modal bundle's dataset, each modality on its own port.

    Ports ``rgb`` and ``depth``: for every sample one PDU each, ``cons({index, label, modality, shape},
    f32vector of C*H*W values)``, the same ``index`` on both, so a server can pair what the devices send.
    Port ``pdu`` carries all of them; with ``device`` set the source emits that modality only (a device's
    own camera, in a flowgraph of its own).
    The dataset, its size and image side come from the bundle's card; ``root`` overrides the card's folder.
    Emitted once from a thread started in ``start()`` (``interval_ms`` apart); ``emitted()``, ``finished()``.
    """

    def __init__(self, bundle_path="", split="test", num_samples=100, start_index=0, interval_ms=0.0, root="",
                 device=""):
        gr.basic_block.__init__(self, name="semcom_rgbd_source", in_sig=None, out_sig=None)
        from semcom_core.runs.multimodal import load_data

        _system, card = load_multimodal(bundle_path)
        cfg = dict(card["config"])
        if root:
            cfg["dataset"] = dict(cfg["dataset"], root=str(root))
        data = load_data(cfg, str(split))
        unknown = set(data.modalities) - set(PORTS)
        if unknown:
            raise ValueError(f"this source has ports {', '.join(PORTS)}; the bundle's devices include {sorted(unknown)}")
        start_index = int(start_index)
        if not 0 <= start_index < len(data):
            raise ValueError(f"start_index {start_index} outside the {len(data)} samples of {data.name}/{split}")
        stop_index = min(len(data), start_index + max(0, int(num_samples)))
        self._indices = np.arange(start_index, stop_index)
        xs, labels = data.batch(self._indices)
        self.modalities = list(data.modalities)
        if device:
            if device not in self.modalities:
                raise ValueError(f"device {device!r} is not one of the bundle's ({', '.join(self.modalities)})")
            self.modalities = [str(device)]
            xs = [xs[list(data.modalities).index(device)]]
        self._inputs = {m: x.numpy().astype(np.float32) for m, x in zip(self.modalities, xs)}
        self._labels = labels.numpy()
        self._interval = max(0.0, float(interval_ms)) / 1000.0
        for port in (*PORTS, "pdu"):
            self.message_port_register_out(pmt.intern(port))
        self._worker = Worker("semcom_rgbd_source", self._run)
        self._emitted = 0
        self._finished = threading.Event()

    def num_samples(self) -> int:
        return len(self._indices)

    def emitted(self) -> int:
        return self._emitted

    def finished(self) -> bool:
        return self._finished.is_set()

    def samples(self) -> tuple[np.ndarray, dict, np.ndarray]:
        """(indices, {modality: float32 [N, C, H, W]}, labels) of everything this source emits."""
        return self._indices.copy(), {m: x.copy() for m, x in self._inputs.items()}, self._labels.copy()

    def start(self):
        return self._worker.start()

    def stop(self):
        return self._worker.stop(timeout=5.0)

    def _run(self, stop):
        self._finished.clear()
        self._emitted = 0
        try:
            for i, index in enumerate(self._indices):
                if stop.is_set():
                    return
                for modality, x in self._inputs.items():
                    meta = {"index": int(index), "label": int(self._labels[i]), "modality": modality,
                            "shape": list(x.shape[1:])}
                    pdu = make_pdu(meta, x[i])
                    self.message_port_pub(pmt.intern(modality), pdu)
                    self.message_port_pub(pmt.intern("pdu"), pdu)
                self._emitted = i + 1
                if self._interval > 0 and stop.wait(self._interval):
                    return
        except Exception as err:  # noqa: BLE001 - report, do not kill the process
            gr.logger("semcom_rgbd_source").error(f"emitting samples failed: {err!r}")
        finally:
            self._finished.set()
