#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""An edge device of the multi-modal system: its modality in, its semantic symbols out."""

from __future__ import annotations

import numpy as np

from .base.bundles import load_multimodal
from .base.tx import FrameTransmitter


class rgbd_device_tx(FrameTransmitter):
    """Encode one modality's samples (``rgbd_source``'s PDUs of that modality) into frames of K/2 unit-power
    analog symbols with the bundle's device encoder.

    Stream output: complex64, one frame per sample, tagged on its first sample with ``packet_len`` (K/2),
    ``index`` and ``label`` (from the PDU) and ``device`` (the modality's position among the bundle's
    devices, so a receiver can check where a frame came from). PDUs of the wrong size or with NaN/inf are
    dropped and counted (``dropped()``, ``drop_reasons()``), as in ``jscc_tx``.

    Args:
        bundle_path: a multi-modal bundle (``semcom multimodal finetune``'s run folder, or ``bundles/rgbd-*``).
        modality: this device's modality, one of the bundle's (``rgb``, ``depth``).
        max_batch, len_tag_key, torch_threads: as for ``jscc_tx``.
    """

    def __init__(self, bundle_path="", modality="rgb", max_batch=64, len_tag_key="packet_len", torch_threads=1):
        from semcom_core.link.multidevice import device_index
        from semcom_core.methods.multimodal import modality_channels

        self.system, card = load_multimodal(bundle_path)
        self.modality = str(modality)
        self.device = device_index(self.system, self.modality)
        super().__init__(f"semcom_rgbd_device_tx_{self.modality}", len_tag_key, max_batch, torch_threads,
                         self.system.k // 2)
        size = int(card["dataset"]["size"])
        self.image_shape = (modality_channels(self.modality), size, size)

    def encode(self, images, metas):
        import torch

        from semcom_core.link.multidevice import device_frames

        x = torch.from_numpy(np.ascontiguousarray(np.stack(images)))
        out = []
        for (payload, _side), meta in zip(device_frames(self.system, self.modality, x), metas):
            tags = {key: meta[key] for key in ("index", "label") if key in meta}
            tags["device"] = self.device
            out.append((payload.astype(np.complex64), tags))
        return out
