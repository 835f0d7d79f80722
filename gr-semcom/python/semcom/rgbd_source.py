#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Multi-modal samples (RGB and depth of one scene) as PDUs, one port per device."""

from __future__ import annotations


import numpy as np
import pmt
from gnuradio import gr

from .base.bundles import load_multimodal
from .base.emitter import EmittingSource
from .base.pdu import make_pdu

#: The devices this source can feed, its output ports.
PORTS = ("rgb", "depth")


class rgbd_source(EmittingSource, gr.basic_block):
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
        for port in (*PORTS, "pdu"):
            self.message_port_register_out(pmt.intern(port))
        self.init_emitter("semcom_rgbd_source", len(self._indices), interval_ms)

    def num_samples(self) -> int:
        return len(self._indices)

    def samples(self) -> tuple[np.ndarray, dict, np.ndarray]:
        """(indices, {modality: float32 [N, C, H, W]}, labels) of everything this source emits."""
        return self._indices.copy(), {m: x.copy() for m, x in self._inputs.items()}, self._labels.copy()

    def publish(self, i: int) -> None:
        for modality, x in self._inputs.items():
            meta = {"index": int(self._indices[i]), "label": int(self._labels[i]), "modality": modality,
                    "shape": list(x.shape[1:])}
            pdu = make_pdu(meta, x[i])
            self.message_port_pub(pmt.intern(modality), pdu)
            self.message_port_pub(pmt.intern("pdu"), pdu)
