#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The server's receiver for one device: its frames off the channel, as PDUs for ``rgbd_server``."""

from __future__ import annotations

import numpy as np

from .base.bundles import load_multimodal
from .base.limits import MAX_SYMBOL_POWER, mean_power
from .base.rx import FrameReceiver


class rgbd_device_rx(FrameReceiver):
    """Check one device's received frames and hand them to the server.

    Stream input: the device's frames after its channel (``packet_len`` K/2, ``index`` tags). Message
    output ``pdu``: per frame ``cons({index, label, modality, snr_db, ...}, f32vector)`` holding the
    received symbols as interleaved real and imaginary parts. Frames of the wrong length, with NaN/inf or
    implausible power, or tagged by another device (``device``) are dropped and counted; the server then
    classifies that sample from the other device.

    Args:
        bundle_path: the multi-modal bundle; modality: the device this receiver listens to.
        len_tag_key: name of the frame length tag.
    """

    def __init__(self, bundle_path="", modality="rgb", len_tag_key="packet_len"):
        from semcom_core.link.multidevice import device_index

        self.system, _card = load_multimodal(bundle_path)
        self.modality = str(modality)
        self.device = device_index(self.system, self.modality)
        self.length = self.system.k // 2
        super().__init__(f"semcom_rgbd_device_rx_{self.modality}", len_tag_key, max_batch=256)

    def parse(self, segments, samples):
        from semcom_core.symbols import FrameError

        out = []
        for seg, frame in zip(segments, samples):
            device = seg.tags.get("device")
            if seg.length != self.length:
                out.append(FrameError("wrong frame length", f"{seg.length} samples, expected {self.length}"))
            elif device and int(device[-1]) != self.device:
                out.append(FrameError("other device", f"frame of device {device[-1]}, this is {self.device}"))
            elif not np.isfinite(frame).all():
                out.append(FrameError("non-finite samples", "NaN or inf in the frame"))
            elif not mean_power(frame) <= MAX_SYMBOL_POWER:
                out.append(FrameError("implausible amplitude", f"mean power {mean_power(frame):.3g}"))
            else:
                out.append(np.array(frame, dtype=np.complex64))
        return out

    def decode(self, frames):
        return [({"modality": self.modality}, np.stack([f.real, f.imag], axis=1).reshape(-1).astype(np.float32))
                for _seg, f in frames]
