"""The one place where latent vectors become channel symbols and back."""

from __future__ import annotations

import torch
from torch import nn

from .constellation import SquareConstellation
from .power import complex_to_real, normalize_power, real_to_complex
from .quantize import check_bits, dequantize, quantize
from .sideinfo import SideInfo

__all__ = ["SymbolCodec", "prefix_mask"]


def _check_finite(name: str, t: torch.Tensor) -> None:
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinite values")


def _check_power(power) -> torch.Tensor:
    """A raw-power profile as a float32 tensor [1] or [k]: finite and > 0 everywhere."""
    t = torch.as_tensor(power, dtype=torch.float32).reshape(-1).clone()
    if t.numel() == 0 or not bool((torch.isfinite(t) & (t > 0)).all()):
        raise ValueError(f"symbol power must be finite and > 0 at every position, got {power}")
    return t


def prefix_mask(end: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean ``[B, k]``: True for the first ``end[b]`` symbols of each row."""
    return torch.arange(k, device=end.device)[None, :] < end.reshape(-1, 1)


class SymbolCodec(nn.Module):
    """Latent ``z`` (real ``[B, 2k]``) <-> channel symbols ``s`` (complex ``[B, k]``) and side information.

    Analog (``q=None``):
        pairs of reals become complex symbols, scaled to unit average power over the symbols sent.
    Quantised (``q`` bits):
        ``z`` is quantised per sample onto ``2^q`` levels between its own ``z_min`` and ``z_max``
        (:func:`~semcom_core.symbols.quantize`), level pairs become points of a
        :class:`SquareConstellation`; the receiver takes nearest-point decisions and dequantises with the
        range the :class:`SideInfo` carries.

    ``active`` (bool ``[B, k]``, default all) marks the symbols really sent: the others are zero, carry
    no power and are zero-filled at the receiver. The side information's ``end`` counts them (for a
    prefix mask, as A-MIJSCC's, it is the end index the receiver needs).

    Quantised symbols are scaled to unit average power too. Points near the centre are used more than the
    outer ones (latents are bell-shaped within their range), so the raw constellation carries less than
    unit power. The codec keeps ``power``, the mean raw power of each symbol position (or one value for
    all), and divides each frame by the square root of its mean over the positions the frame sends (an
    A-MIJSCC frame sends a prefix, and the leading positions carry more). In training mode the profile is
    the batch's own (and a running mean is kept, as BatchNorm keeps its statistics); in eval mode, as on
    the radio, it is the stored running mean, which transmitter and receiver share through the bundle (its
    card's ``symbol_power``). A fixed profile per model, not a scale per image: the receiver needs it
    before its first decision (it knows which positions were sent), and it costs no header bits.

    Both directions pass gradients: the quantised path uses straight-through estimates (forward values
    are the hard decisions, gradients those of the underlying affine maps), so the same codec serves
    training and deployment. Non-finite input raises ``ValueError``.
    """

    #: weight of each training batch in the running mean of the quantised symbols' raw power
    POWER_MOMENTUM = 0.05

    def __init__(self, q: int | None = None, power=None):
        super().__init__()
        self.q = None if q is None else check_bits(q)
        self.constellation = None if q is None else SquareConstellation(q)
        self._batch_power = None
        if self.q is not None:   # analog codecs keep no state (their models' weights stay as they were)
            self.register_buffer("power", _check_power(1.0 if power is None else power))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        stored = state_dict.get(prefix + "power")
        if self.q is not None and stored is not None and stored.shape != self.power.shape:
            self.power = torch.empty_like(stored)   # a profile over the k positions, or one value
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _frame_power(self, profile: torch.Tensor, active: torch.Tensor | None, k: int) -> torch.Tensor:
        """[B, 1]: each frame's mean raw power over the positions it sends, from a profile [1] or [k]."""
        if profile.numel() == 1:
            return profile.reshape(1, 1)
        if profile.numel() != k:
            raise ValueError(f"symbol power profile has {profile.numel()} positions, the frames have {k}")
        if active is None:
            return profile.mean().reshape(1, 1)
        weights = active.to(profile.dtype)
        return ((weights * profile).sum(1, keepdim=True) / weights.sum(1, keepdim=True).clamp_min(1)).clamp_min(1e-6)

    def _transmit_power(self, s: torch.Tensor, active: torch.Tensor | None) -> torch.Tensor:
        """The raw power each frame is divided by (see the class notes), [B, 1]."""
        k = s.shape[1]
        if not self.training:
            self._batch_power = None
            return self._frame_power(self.power, active, k)
        energy = s.detach().abs() ** 2
        counts = torch.full((k,), float(s.shape[0]), device=s.device) if active is None else active.sum(0).float()
        profile = energy.sum(0) / counts.clamp_min(1)
        with torch.no_grad():
            if self.power.numel() != k:          # the first batch sets the profile's length
                self.power = profile.clamp_min(1e-6).to(self.power.dtype)
            else:
                seen = counts > 0
                self.power[seen] = torch.lerp(self.power[seen], profile[seen].to(self.power.dtype),
                                              self.POWER_MOMENTUM)
            profile = torch.where(counts > 0, profile, self.power.to(profile.dtype)).clamp_min(1e-6)
        self._batch_power = profile
        return self._frame_power(profile, active, k)

    def _receive_power(self, active: torch.Tensor | None, k: int) -> torch.Tensor:
        profile = self._batch_power if self.training and self._batch_power is not None else self.power
        return self._frame_power(profile, active, k)

    @property
    def bits_per_symbol(self) -> int | None:
        """Bits carried per complex symbol (``2q``), ``None`` when analog."""
        return None if self.q is None else 2 * self.q

    def to_symbols(self, z: torch.Tensor, active: torch.Tensor | None = None) -> tuple[torch.Tensor, SideInfo]:
        """Real ``[B, 2k]`` -> complex64 symbols ``[B, k]`` and their (batched) side information."""
        if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[1] % 2 or z.is_complex():
            raise ValueError(f"to_symbols expects a real tensor [B, 2k] with even width, got {getattr(z, 'shape', z)}")
        _check_finite("latent z", z)
        batch, k = z.shape[0], z.shape[1] // 2
        if active is not None and tuple(active.shape) != (batch, k):
            raise ValueError(f"active must have shape [B, k]=[{batch}, {k}], got {tuple(active.shape)}")
        sent = torch.full((batch,), k, dtype=torch.long, device=z.device) if active is None else active.sum(1)
        if self.q is None:
            s = real_to_complex(z)
            if active is not None:
                s = s * active
            return normalize_power(s, sent), SideInfo(0, sent)
        levels, z_min, z_max = quantize(z, self.q)
        z_max = torch.where(z_max > z_min, z_max, z_min + 1.0)   # a constant row: every level is 0 anyway
        step = (z_max - z_min) / (2**self.q - 1)
        soft = (z.float() - z_min[:, None]) / step[:, None]       # fractional levels, for the gradient
        soft = soft + (levels.float() - soft).detach()
        s = self.constellation.map(soft)
        if active is not None:
            s = s * active
        s = s / self._transmit_power(s, active).sqrt()
        return s, SideInfo(self.q, sent, z_min, z_max)

    def from_symbols(self, y: torch.Tensor, side: SideInfo | None = None,
                     active: torch.Tensor | None = None) -> torch.Tensor:
        """Received (equalised) symbols ``[B, k]`` -> latent estimate ``[B, 2k]``, float32.

        Symbols outside ``active`` (default: past each row's ``side.end``) are zero-filled. ``side`` may be
        None for analog symbols of which all were sent."""
        if not isinstance(y, torch.Tensor) or y.dim() != 2 or not y.is_complex():
            raise ValueError(f"from_symbols expects a complex tensor [B, k], got {getattr(y, 'shape', y)}")
        _check_finite("received symbols", y)
        batch, k = y.shape
        if side is None:
            if self.q is not None:
                raise ValueError("a quantised codec needs side information (z_min, z_max)")
            side = SideInfo(0, k)
        if not isinstance(side, SideInfo):
            raise ValueError(f"side information must be a SideInfo, got {type(side).__name__}")
        if int(side.q) != (self.q or 0):
            raise ValueError(f"side information for q={side.q}, this codec uses q={self.q or 0}")
        if active is None:
            end = torch.as_tensor(side.end, device=y.device).reshape(-1)
            if end.numel() == 1:
                end = end.expand(batch)
            if end.shape[0] != batch:
                raise ValueError(f"side information must have shape [B]=[{batch}]")
            active = None if bool((end >= k).all()) else prefix_mask(end, k)
        if self.q is None:
            z_hat = complex_to_real(y).float()
        else:
            z_min = torch.as_tensor(side.z_min, dtype=torch.float32, device=y.device).reshape(-1)
            z_max = torch.as_tensor(side.z_max, dtype=torch.float32, device=y.device).reshape(-1)
            _check_finite("side information", torch.cat([z_min, z_max]))
            if z_min.shape[0] != batch or z_max.shape[0] != batch:
                raise ValueError(f"side information must have shape [B]=[{batch}]")
            soft = self.constellation.soft_demap(y * self._receive_power(active, k).sqrt())
            levels = soft + (torch.round(soft) - soft).detach()
            z_hat = dequantize(levels, z_min, z_max, self.q)
        if active is None:
            return z_hat
        return z_hat * active.repeat_interleave(2, dim=1).to(z_hat.dtype)

    def forward(self, z: torch.Tensor):
        """Same as :meth:`to_symbols`."""
        return self.to_symbols(z)

    def extra_repr(self) -> str:
        if self.q is None:
            return "q=None"
        return f"q={self.q}, power={float(self.power.mean()):.4f} over {self.power.numel()} position(s)"
