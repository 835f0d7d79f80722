"""Square QAM through Sionna's mapper and demapper, in semcom's conventions.

Symbols have unit average power (Sionna's normalised constellations), so the
SNR of :mod:`semcom_core.channels` (Es/N0 per complex symbol) applies as is.
LLRs follow semcom's sign, ``ln P(b=0) / P(b=1)``: Sionna's are negated.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["QAM", "QAM_ORDERS", "effective_noise_variance"]

QAM_ORDERS = (4, 16, 64, 256)


class QAM:
    """Gray-mapped square QAM of ``order`` points.

    Args:
        order: 4, 16, 64 or 256.
        demapping: ``"maxlog"`` or ``"app"`` (exact) LLRs.
    """

    def __init__(self, order: int = 16, demapping: str = "maxlog"):
        from sionna.phy.mapping import Demapper, Mapper

        if order not in QAM_ORDERS:
            raise ValueError(f"QAM order must be one of {QAM_ORDERS}, got {order!r}")
        if demapping not in ("maxlog", "app"):
            raise ValueError(f"demapping must be 'maxlog' or 'app', got {demapping!r}")
        self.order = int(order)
        self.bits_per_symbol = int(np.log2(order))
        self.demapping = demapping
        self._mapper = Mapper("qam", self.bits_per_symbol, device="cpu")
        self._demapper = Demapper(demapping, "qam", self.bits_per_symbol, device="cpu")

    @property
    def name(self) -> str:
        return f"{self.order}qam"

    def modulate(self, bits: np.ndarray) -> torch.Tensor:
        """``uint8 [B, L*m]`` -> unit-power complex64 symbols ``[B, L]``."""
        bits = np.asarray(bits)
        if bits.ndim != 2 or bits.shape[1] % self.bits_per_symbol:
            raise ValueError(f"bits must be [B, L*{self.bits_per_symbol}], got shape {bits.shape}")
        return self._mapper(torch.as_tensor(bits, dtype=torch.float32)).to(torch.complex64)

    def llrs(self, y_eq: torch.Tensor, noise_var) -> np.ndarray:
        """LLRs ``float32 [B, L*m]`` of equalised symbols ``y_eq`` ``[B, L]``.

        ``noise_var`` is the noise variance of each equalised symbol (a number,
        ``[B, 1]`` or ``[B, L]``), e.g. from :func:`effective_noise_variance`.
        """
        if not isinstance(y_eq, torch.Tensor) or not y_eq.is_complex() or y_eq.dim() != 2:
            raise ValueError("y_eq must be a complex tensor [B, L]")
        no = torch.as_tensor(noise_var, dtype=torch.float32)
        with torch.no_grad():
            llr = self._demapper(y_eq.to(torch.complex64), no)
        return (-llr).numpy().astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return f"QAM(order={self.order}, demapping={self.demapping!r})"


def effective_noise_variance(out, pilots: int = 0) -> torch.Tensor:
    """Noise variance of each zero-forcing equalised symbol, ``[B, k]``.

    ``y_eq = y / h_est`` carries noise ``n / h_est``: variance ``N0 / |h_est|^2``.
    With least-squares CSI from ``pilots`` pilots the estimate error (variance
    ``N0 / pilots``) adds ``|s|^2 N0 / (pilots |h_est|^2)``, taken at the
    average symbol power 1.
    """
    gain = out.h_est.abs().square().expand_as(out.y_eq).clamp_min(1e-12)
    noise = out.noise_var.expand_as(gain)
    if pilots:
        noise = noise * (1.0 + 1.0 / pilots)
    return noise / gain
