"""Additive white Gaussian noise channel."""

from __future__ import annotations

import torch

from .base import Channel

__all__ = ["AWGNChannel"]


class AWGNChannel(Channel):
    """``y = s + n`` with ``n ~ CN(0, 10^(-snr_db/10))``.

    The gain is 1 and known to the receiver, so ``csi`` and ``pilots`` are
    accepted (and checked) for a uniform interface but change nothing:
    ``h = h_est = 1`` and ``y_eq = y``.

    Example:
        >>> ch = AWGNChannel()
        >>> y = ch(torch.ones(2, 8, dtype=torch.complex64), snr_db=10.0)
    """

    def sample_gains(self, batch_size, k, device, generator):
        ones = torch.ones(batch_size, 1, dtype=torch.complex64, device=device)
        return ones, ones

    def estimate(self, blocks, noise_var, generator):
        return blocks
