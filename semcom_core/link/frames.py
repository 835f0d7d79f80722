"""Between a batch and frames: one ``(payload, SideInfo)`` per image, as streams and headers carry them."""

from __future__ import annotations

import numpy as np
import torch

from ..symbols import SideInfo
from .transceiver import Sent

__all__ = ["frames_of", "batch_of"]


def frames_of(sent: Sent) -> list[tuple[np.ndarray, SideInfo]]:
    """Per image: the symbols actually sent (complex64 ``[end]``) and its single-frame SideInfo."""
    symbols = sent.symbols.detach().to(torch.complex64).cpu().numpy()
    return [(symbols[i, :side.end].copy(), side) for i, side in enumerate(sent.side.rows())]


def batch_of(frames, k: int, q: int | None) -> tuple[torch.Tensor, SideInfo]:
    """Received frames -> (symbols ``[B, k]`` complex64, zero past each ``end``; batched SideInfo).

    Raises ``ValueError`` naming the frame when its side information contradicts a transceiver with
    ``k`` symbols and bit width ``q`` (:meth:`SideInfo.problem`) or its payload is not ``end`` long."""
    frames = list(frames)
    if not frames:
        raise ValueError("no frames to decode")
    payloads = []
    for i, (payload, side) in enumerate(frames):
        reason = side.problem(k, q)
        if reason:
            raise ValueError(f"frame {i}: {reason}")
        payload = np.asarray(payload, dtype=np.complex64)
        if payload.shape != (side.end,):
            raise ValueError(f"frame {i}: payload of {payload.shape} symbols, side information says {side.end}")
        payloads.append(payload)
    if all(p.size == k for p in payloads):      # every symbol sent: one copy
        y = torch.from_numpy(np.stack(payloads))
    else:
        y = torch.zeros(len(frames), k, dtype=torch.complex64)
        for i, payload in enumerate(payloads):
            y[i, :payload.size] = torch.from_numpy(payload)
    return y, SideInfo.stack([side for _, side in frames])
