"""The one place where latent vectors become channel symbols and back."""

from __future__ import annotations

import torch
from torch import nn

from .constellation import SquareConstellation
from .power import complex_to_real, normalize_power, real_to_complex
from .quantize import check_bits, dequantize, quantize

__all__ = ["SymbolCodec"]


def _check_finite(name: str, t: torch.Tensor) -> None:
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinite values")


class SymbolCodec(nn.Module):
    """Latent ``z`` (real ``[B, 2k]``) <-> channel symbols ``s`` (complex ``[B, k]``).

    Analog (``q=None``):
        ``s = normalize_power(real_to_complex(z))``; ``z_hat = complex_to_real(y)``.
        The receiver gets the power-normalised latent; no side information.
    Quantised (``q`` bits):
        ``z`` is quantised per sample onto ``2^q`` levels
        (:func:`~semcom_core.symbols.quantize`), level pairs become points of a
        :class:`SquareConstellation`; side information
        ``{"z_min": [B], "z_max": [B]}`` is assumed to reach the receiver
        intact. The receiver takes nearest-point decisions and dequantises.
        Average power is 1 when the levels are used uniformly.

    Both directions pass gradients: the quantised path uses straight-through
    estimates (forward values are the hard decisions, gradients those of the
    underlying affine maps), so the same codec serves training and deployment.

    Non-finite input raises ``ValueError``.
    """

    def __init__(self, q: int | None = None):
        super().__init__()
        self.q = None if q is None else check_bits(q)
        self.constellation = None if q is None else SquareConstellation(q)

    @property
    def bits_per_symbol(self) -> int | None:
        """Bits carried per complex symbol (``2q``), ``None`` when analog."""
        return None if self.q is None else 2 * self.q

    def to_symbols(self, z: torch.Tensor):
        """Real ``[B, 2k]`` -> ``(s, side)``: complex64 symbols ``[B, k]`` and side info dict."""
        if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[1] % 2 or z.is_complex():
            raise ValueError(f"to_symbols expects a real tensor [B, 2k] with even width, got {getattr(z, 'shape', z)}")
        _check_finite("latent z", z)
        if self.q is None:
            return normalize_power(real_to_complex(z)), {}
        levels, z_min, z_max = quantize(z, self.q)
        step = (z_max - z_min) / (2**self.q - 1)
        step = torch.where(step > 0, step, torch.ones_like(step))
        soft = (z.float() - z_min[:, None]) / step[:, None]  # fractional levels, for the gradient
        soft = soft + (levels.float() - soft).detach()
        return self.constellation.map(soft), {"z_min": z_min, "z_max": z_max}

    def from_symbols(self, y: torch.Tensor, side: dict | None = None) -> torch.Tensor:
        """Received (equalised) symbols ``[B, k]`` -> latent estimate ``[B, 2k]``, float32."""
        if not isinstance(y, torch.Tensor) or y.dim() != 2 or not y.is_complex():
            raise ValueError(f"from_symbols expects a complex tensor [B, k], got {getattr(y, 'shape', y)}")
        _check_finite("received symbols", y)
        if self.q is None:
            return complex_to_real(y).float()
        if not side or "z_min" not in side or "z_max" not in side:
            raise ValueError("a quantised codec needs side information {'z_min', 'z_max'}")
        z_min = torch.as_tensor(side["z_min"], dtype=torch.float32, device=y.device).reshape(-1)
        z_max = torch.as_tensor(side["z_max"], dtype=torch.float32, device=y.device).reshape(-1)
        _check_finite("side information", torch.cat([z_min, z_max]))
        if z_min.shape[0] != y.shape[0] or z_max.shape[0] != y.shape[0]:
            raise ValueError(f"side information must have shape [B]=[{y.shape[0]}]")
        soft = self.constellation.soft_demap(y)
        levels = soft + (torch.round(soft) - soft).detach()
        return dequantize(levels, z_min, z_max, self.q)

    def forward(self, z: torch.Tensor):
        """Same as :meth:`to_symbols`."""
        return self.to_symbols(z)

    def extra_repr(self) -> str:
        return f"q={self.q}"
