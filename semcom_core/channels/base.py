"""Common machinery of the symbol-level channels.

Every channel maps unit-power complex symbols ``s`` of shape ``[B, k]`` to
received symbols ``y = h * s + n`` and equalises them with zero forcing,
``y_eq = y / h_est``. Subclasses only say how the gains ``h`` are drawn and how
the receiver estimates them; noise, SNR handling, validation and equalisation
live here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

import torch
from torch import nn

from ..units import noise_var_from_snr_db

__all__ = ["Channel", "ChannelOutput", "CSI_MODES", "noise_variance", "complex_normal", "uniform", "pilot_sequence"]

CSI_MODES = ("perfect", "ls")


@dataclass
class ChannelOutput:
    """What one pass through a channel produced.

    Attributes:
        y: received symbols before equalisation, complex ``[B, k]``.
        h: true channel gains, broadcastable to ``y``.
        h_est: gains the equaliser used (``h`` for perfect CSI), broadcastable to ``y``.
        y_eq: zero-forcing equalised symbols ``y / h_est``, complex ``[B, k]``.
        noise_var: noise variance per complex symbol, ``[B, 1]``.
    """

    y: torch.Tensor
    h: torch.Tensor
    h_est: torch.Tensor
    y_eq: torch.Tensor
    noise_var: torch.Tensor


def noise_variance(snr_db, batch_size: int, device=None) -> torch.Tensor:
    """Noise variance per complex symbol, ``10^(-snr_db/10)``, shape ``[B, 1]``.

    ``snr_db`` is Es/N0 in dB for unit symbol power: a python number, a
    one-element tensor or a float tensor of shape ``[B]``. Non-finite values
    raise ``ValueError``.
    """
    if not isinstance(snr_db, (torch.Tensor, Real)) and hasattr(snr_db, "__array__"):
        snr_db = torch.as_tensor(snr_db)  # numpy scalar or array
    if isinstance(snr_db, torch.Tensor):
        snr = snr_db.detach().to(device=device, dtype=torch.float32)
        if snr.numel() == 1:
            snr = snr.reshape(1, 1).expand(batch_size, 1)
        elif snr.dim() == 1 and snr.shape[0] == batch_size:
            snr = snr.reshape(batch_size, 1)
        else:
            raise ValueError(
                f"snr_db tensor must have one element or shape [B]=[{batch_size}], got {tuple(snr.shape)}"
            )
    elif isinstance(snr_db, Real) and not isinstance(snr_db, bool):
        snr = torch.full((batch_size, 1), float(snr_db), device=device)
    else:
        raise ValueError(f"snr_db must be a number or a float tensor, got {type(snr_db).__name__}")
    if not bool(torch.isfinite(snr).all()):
        raise ValueError(f"snr_db must be finite, got {snr_db}")
    return noise_var_from_snr_db(snr)


def complex_normal(shape, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Samples of CN(0, 1) (each of real and imaginary part has variance 1/2), complex64.

    Drawn on the generator's device and moved to ``device``, so a CPU
    generator also serves tensors on an accelerator.
    """
    draw_device = generator.device if generator is not None else device
    z = torch.randn(tuple(shape), dtype=torch.complex64, generator=generator, device=draw_device)
    return z.to(device) if device is not None else z


def uniform(shape, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Samples of U[0, 1), float32, drawn like :func:`complex_normal`."""
    draw_device = generator.device if generator is not None else device
    u = torch.rand(tuple(shape), generator=generator, device=draw_device)
    return u.to(device) if device is not None else u


def pilot_sequence(n: int, device=None) -> torch.Tensor:
    """``n`` known unit-modulus pilot symbols (QPSK points cycled), complex64 ``[n]``."""
    m = torch.arange(n, device=device, dtype=torch.float32)
    phase = math.pi / 4 * (2 * torch.remainder(m, 4) + 1)
    return torch.polar(torch.ones_like(phase), phase)


def _check_csi(csi: str, pilots: int) -> tuple[str, int]:
    if csi not in CSI_MODES:
        raise ValueError(f"csi must be one of {CSI_MODES}, got {csi!r}")
    if isinstance(pilots, bool) or not isinstance(pilots, Integral):
        raise ValueError(f"pilots must be an integer, got {pilots!r}")
    pilots = int(pilots)
    if pilots < 0:
        raise ValueError(f"pilots must be >= 0, got {pilots}")
    if csi == "ls" and pilots < 1:
        raise ValueError("csi='ls' needs at least one pilot per coherence block")
    return csi, pilots


class Channel(nn.Module):
    """Base class: ``y = h s + n`` followed by zero-forcing equalisation.

    Args:
        csi: ``"perfect"`` (the receiver knows ``h``) or ``"ls"`` (least-squares
            estimate from pilots, see :meth:`estimate`).
        pilots: known pilot symbols per coherence block for ``csi="ls"``.
        generator: default random generator; a generator passed to
            :meth:`transmit` or :meth:`forward` takes precedence.
        impairments: radio hardware around the channel (:class:`~.hardware.RadioImpairments`, or a dict of
            its fields): the transmitter's power amplifier, the receiver's phase noise and IQ imbalance.

    Subclasses implement :meth:`sample_gains`, which returns the gains of the
    frame, and may override :meth:`estimate`.
    """

    def __init__(self, csi: str = "perfect", pilots: int = 4, generator: torch.Generator | None = None,
                 impairments=None):
        super().__init__()
        from .hardware import RadioImpairments

        self.csi, self.pilots = _check_csi(csi, pilots)
        self.impairments = RadioImpairments.of(impairments)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise ValueError("generator must be a torch.Generator or None")
        self.generator = generator

    # -- to be provided by subclasses -------------------------------------
    def sample_gains(self, batch_size: int, k: int, device, generator):
        """Draw the gains of one frame.

        Returns ``(h, blocks)``: ``h`` broadcastable to ``[B, k]`` and
        ``blocks``, the gains per coherence block ``[B, nb]``, with
        ``h = blocks`` expanded over the block length. ``blocks`` is what the
        pilots see.
        """
        raise NotImplementedError

    def expand_blocks(self, blocks: torch.Tensor, k: int) -> torch.Tensor:
        """Spread per-block values ``[B, nb]`` over the ``k`` symbols of a frame.

        The default suits one block per frame (``nb = 1``): ``[B, 1]`` broadcasts.
        """
        return blocks

    # -- shared logic ------------------------------------------------------
    def estimate(self, blocks: torch.Tensor, noise_var: torch.Tensor, generator) -> torch.Tensor:
        """Least-squares estimate of each block gain from ``self.pilots`` pilots.

        Each pilot ``p`` (|p| = 1) goes through the block gain with its own
        noise, ``y_p = h p + n_p``, and ``h_est = mean(y_p / p)``, so the
        estimation error has variance ``noise_var / pilots``.
        """
        p = pilot_sequence(self.pilots, device=blocks.device)
        shape = (*blocks.shape, self.pilots)
        n = complex_normal(shape, generator, blocks.device)
        std = noise_var.sqrt().reshape(-1, *([1] * (len(shape) - 1)))
        y_p = blocks.unsqueeze(-1) * p + std * n
        return (y_p * p.conj()).mean(dim=-1)

    def _check_symbols(self, s: torch.Tensor) -> None:
        if not isinstance(s, torch.Tensor) or not s.is_complex():
            raise ValueError("channel input must be a complex tensor of shape [B, k]")
        if s.dim() != 2:
            raise ValueError(f"channel input must have shape [B, k], got {tuple(s.shape)}")

    def transmit(self, s: torch.Tensor, snr_db, generator: torch.Generator | None = None) -> ChannelOutput:
        """Send ``s`` (complex ``[B, k]``) at ``snr_db``; return a :class:`ChannelOutput`.

        Differentiable with respect to ``s``.
        """
        self._check_symbols(s)
        g = generator if generator is not None else self.generator
        batch, k = s.shape
        noise_var = noise_variance(snr_db, batch, s.device)
        h, blocks = self.sample_gains(batch, k, s.device, g)
        h = h.to(s.dtype)
        if self.csi == "perfect":
            h_est = h
        else:
            h_est = self.expand_blocks(self.estimate(blocks, noise_var, g), k).to(s.dtype)
        n = complex_normal((batch, k), g, s.device).to(s.dtype)
        radio = self.impairments
        y = h * (s if radio is None else radio.amplify(s)) + noise_var.sqrt() * n
        if radio is not None:
            y = radio.receive(y, g)
        y_eq = y / h_est
        return ChannelOutput(y=y, h=h, h_est=h_est, y_eq=y_eq, noise_var=noise_var)

    def forward(self, s: torch.Tensor, snr_db, generator: torch.Generator | None = None) -> torch.Tensor:
        """Equalised received symbols ``y_eq`` (complex ``[B, k]``)."""
        return self.transmit(s, snr_db, generator).y_eq

    def extra_repr(self) -> str:
        return f"csi={self.csi!r}, pilots={self.pilots}" + ("" if self.impairments is None else f", {self.impairments}")
