"""The multi-modal system split the way radios run it: one transmitter per device, a server that fuses.

Each device encodes its own modality into K reals and sends them as K/2 unit-power analog symbols over a
channel of its own (:func:`device_frames`); the server recovers each device's features and classifies
their concatenation (:func:`server_classify`). A device whose frame of a sample is lost is replaced by
its mean feature, zero: the features the devices send are standardised (``feature_norm: batch``, then
unit power per frame), so zero is what the server saw on average. The server then classifies from the
devices it heard, as the paper's server would with one modality missing.
"""

from __future__ import annotations

import numpy as np
import torch

from ..symbols import SideInfo
from .frames import batch_of

__all__ = ["device_frames", "device_index", "server_classify"]


def device_index(system, modality: str) -> int:
    """The position of ``modality``'s device in the system (its ``device`` tag); ValueError naming the
    devices there are for any other."""
    if modality not in system.modalities:
        raise ValueError(f"the system has no {modality!r} device; its devices are {', '.join(system.modalities)}")
    return system.modalities.index(modality)


@torch.no_grad()
def device_frames(system, modality: str, x: torch.Tensor) -> list[tuple[np.ndarray, SideInfo]]:
    """One device's transmitter: inputs ``[B, C, H, W]`` of ``modality`` -> one (payload complex64 [K/2],
    SideInfo) per sample."""
    device_index(system, modality)
    if x.ndim != 4:
        raise ValueError(f"the {modality} device expects inputs [B, C, H, W], got {tuple(x.shape)}")
    s, side = system.codec.to_symbols(system.encoders[modality](x.float()))
    symbols = s.to(torch.complex64).numpy()
    return [(symbols[i].copy(), row) for i, row in enumerate(side.rows())]


@torch.no_grad()
def server_classify(system, received: dict[str, list]) -> torch.Tensor:
    """The server: per device, the received frames of a batch of samples (None for a sample whose frame
    was lost) -> class logits ``[B, classes]``. Every device must list the same number of samples, and
    each sample must have been heard from at least one device."""
    lengths = {len(frames) for frames in received.values()}
    unknown = set(received) - set(system.modalities)
    if unknown:
        raise ValueError(f"frames from unknown devices {sorted(unknown)}; the system has {system.modalities}")
    if len(lengths) != 1:
        raise ValueError(f"the devices list different numbers of samples: {sorted(lengths)}")
    batch = lengths.pop() if lengths else 0
    if batch == 0:
        raise ValueError("no samples to classify")
    heard = np.zeros(batch, bool)
    features = []
    for modality in system.modalities:
        z = torch.zeros(batch, system.k)
        frames = received.get(modality) or [None] * batch
        present = [i for i, frame in enumerate(frames) if frame is not None]
        if present:
            y, side = batch_of([frames[i] for i in present], system.k // 2, None)
            z[present] = system.codec.from_symbols(y, side)
            heard[present] = True
        features.append(z)
    if not heard.all():
        raise ValueError(f"samples {np.flatnonzero(~heard).tolist()} were heard from no device")
    return system.server(torch.cat(features, dim=1))
