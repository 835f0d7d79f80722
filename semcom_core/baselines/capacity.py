"""BPG + capacity: the upper bound of any separate source-channel coding link.

Error-free transmission at the channel capacity, ``log2(1 + SNR |h|^2)`` bits
per complex channel use (eq. 24 of the MIJSCC paper for AWGN, ``|h| = 1``). For
block fading the bound uses each frame's own gain, as if the transmitter knew
it; no practical link without that knowledge can do better. The bound frames
its payload exactly like :class:`~semcom_core.baselines.link.DigitalLink`
(16-bit length field), so the two differ only in how many bits get through.
When the source codec cannot compress an item into the capacity, the item is
infeasible and counts as lost.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..units import db_to_linear
from .link import LENGTH_BITS
from .source.base import Encoded, fit

__all__ = ["capacity_bits", "capacity_budgets", "choose_at_capacity"]


def capacity_bits(channel_uses: int, snr_db: float, gain2: float = 1.0) -> int:
    """``floor(k log2(1 + SNR |h|^2))``: bits that ``k`` channel uses carry error-free."""
    if channel_uses < 0 or not math.isfinite(snr_db):
        raise ValueError("channel_uses must be >= 0 and snr_db finite")
    return int(math.floor(channel_uses * math.log2(1.0 + db_to_linear(snr_db) * gain2)))


def capacity_budgets(channel, batch: int, channel_uses: int, snr_db: float,
                     generator: torch.Generator | None = None) -> np.ndarray:
    """Source budget of each of ``batch`` frames through ``channel`` (gains drawn per frame)."""
    h, _ = channel.sample_gains(batch, channel_uses, "cpu", generator or channel.generator)
    gain2 = h.abs().square().expand(batch, channel_uses).double()
    snr = db_to_linear(snr_db)
    bits = torch.floor(torch.log2(1.0 + snr * gain2).sum(dim=1)).numpy()  # each symbol at its own gain
    return (bits - LENGTH_BITS).astype(np.int64)


def choose_at_capacity(ladders: list[list[Encoded]], budgets: np.ndarray) -> list[Encoded | None]:
    """Best encoding per item within its capacity budget (None: BPG cannot go that low)."""
    return [fit(ladder, int(b)) if b > 0 else None for ladder, b in zip(ladders, budgets)]
