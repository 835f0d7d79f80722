"""3GPP TR 38.901 tapped-delay-line channel on OFDM subcarriers (Sionna)."""

from __future__ import annotations

import functools
import math
from numbers import Integral

import torch

from .base import Channel

__all__ = ["TDLChannel", "TDL_MODELS"]

TDL_MODELS = ("A", "B", "C", "D", "E")


@functools.lru_cache(maxsize=None)
def _sionna_tdl_class():
    """Sionna's TDL with a pluggable random generator.

    Sionna draws from ``self.torch_rng`` (by default its global generator,
    set by ``sionna.phy.config.seed``). The subclass returns the generator
    given for the current call instead, so a seeded ``torch.Generator``
    reproduces the channel without reseeding any global state.
    """
    try:
        from sionna.phy.channel.tr38901 import TDL
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("the 'tdl' channel needs Sionna: pip install sionna-no-rt") from err

    class _TDL(TDL):
        generator: torch.Generator | None = None

        @property
        def torch_rng(self):
            return self.generator if self.generator is not None else super().torch_rng

    return _TDL


def _device_name(device) -> str:
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return str(device)


class TDLChannel(Channel):
    """TDL-A..E multipath channel seen by the symbols of an OFDM frame.

    The ``k`` symbols of a frame are laid on ``fft_size`` subcarriers, one
    OFDM symbol after another (symbol ``i`` on subcarrier ``i % fft_size`` of
    OFDM symbol ``i // fft_size``; every subcarrier carries data). The cyclic
    prefix is assumed longer than the channel, so each symbol sees a flat gain,
    the frequency response of Sionna's TDL at its subcarrier and OFDM symbol,
    ``y = h s + n``. The response is scaled by the power-delay profile so that
    E|h|^2 = 1. OFDM symbols last ``1 / subcarrier_spacing`` and the channel
    ages between them according to ``speed``.

    Channel estimation with ``csi="ls"``: the frame starts with ``pilots``
    known pilot OFDM symbols on all subcarriers; all of them see the response
    at the start of the frame (time step 0), the data OFDM symbols follow at
    time steps 1, 2, .... Each subcarrier's gain is estimated as
    ``mean(y_p / p)`` over the pilots and used for every data OFDM symbol of
    the frame, so with ``speed > 0`` the estimate grows stale along the frame.

    Args:
        model: TDL profile, one of ``"A"`` .. ``"E"`` (D and E have a LoS tap).
        delay_spread: RMS delay spread in seconds.
        carrier_frequency: carrier frequency in Hz.
        speed: receiver speed in m/s (Doppler).
        fft_size: subcarriers per OFDM symbol.
        subcarrier_spacing: in Hz.
        csi, pilots, generator: see :class:`~semcom_core.channels.base.Channel`.

    Randomness: with a ``generator`` Sionna draws from it; without one, from
    Sionna's own generator (seeded by ``sionna.phy.config.seed``).
    """

    def __init__(
        self,
        model: str = "A",
        delay_spread: float = 100e-9,
        carrier_frequency: float = 3.5e9,
        speed: float = 0.0,
        fft_size: int = 64,
        subcarrier_spacing: float = 30e3,
        csi: str = "perfect",
        pilots: int = 4,
        generator: torch.Generator | None = None,
        impairments=None,
    ):
        super().__init__(csi=csi, pilots=pilots, generator=generator, impairments=impairments)
        if model not in TDL_MODELS:
            raise ValueError(f"TDL model must be one of {TDL_MODELS}, got {model!r}")
        for name, value in (
            ("delay_spread", delay_spread),
            ("carrier_frequency", carrier_frequency),
            ("subcarrier_spacing", subcarrier_spacing),
        ):
            if not math.isfinite(float(value)) or float(value) <= 0:
                raise ValueError(f"{name} must be finite and > 0, got {value}")
        if not math.isfinite(float(speed)) or float(speed) < 0:
            raise ValueError(f"speed must be finite and >= 0, got {speed}")
        if isinstance(fft_size, bool) or not isinstance(fft_size, Integral) or fft_size < 1:
            raise ValueError(f"fft_size must be a positive integer, got {fft_size!r}")
        fft_size = int(fft_size)
        self.model = model
        self.delay_spread = float(delay_spread)
        self.carrier_frequency = float(carrier_frequency)
        self.speed = float(speed)
        self.fft_size = fft_size
        self.subcarrier_spacing = float(subcarrier_spacing)
        self._sionna = {}  # device name -> Sionna TDL, built on first use

    def __getstate__(self):
        # the Sionna models are a cache, rebuilt on first use after copy or unpickling
        state = self.__dict__.copy()
        state["_sionna"] = {}
        return state

    def _tdl(self, device: str):
        if device not in self._sionna:
            self._sionna[device] = _sionna_tdl_class()(
                model=self.model,
                delay_spread=self.delay_spread,
                carrier_frequency=self.carrier_frequency,
                min_speed=self.speed,
                max_speed=self.speed,
                device=device,
            )
        return self._sionna[device]

    def frequency_response(self, batch_size: int, num_ofdm_symbols: int, device, generator=None) -> torch.Tensor:
        """Per-subcarrier response, complex64 ``[B, num_ofdm_symbols, fft_size]``, E|h|^2 = 1."""
        from sionna.phy.channel import cir_to_ofdm_channel, subcarrier_frequencies

        sionna_device = _device_name(generator.device if generator is not None else device)
        tdl = self._tdl(sionna_device)
        tdl.generator = generator
        try:
            a, tau = tdl(batch_size, num_ofdm_symbols, self.subcarrier_spacing)
        finally:
            tdl.generator = None
        freqs = subcarrier_frequencies(self.fft_size, self.subcarrier_spacing, device=sionna_device)
        h = cir_to_ofdm_channel(freqs, a, tau)  # [B, 1, 1, 1, 1, T, F]
        h = h.reshape(batch_size, num_ofdm_symbols, self.fft_size)
        h = h / tdl.mean_powers.sum().sqrt()
        return h.to(device=device, dtype=torch.complex64)

    def sample_gains(self, batch_size, k, device, generator):
        num_data = -(-k // self.fft_size)
        h = self.frequency_response(batch_size, 1 + num_data, device, generator)
        blocks = h[:, 0, :]  # what the pilot OFDM symbols see
        return h[:, 1:, :].reshape(batch_size, -1)[:, :k], blocks

    def expand_blocks(self, blocks, k):
        reps = -(-k // self.fft_size)
        return blocks.repeat(1, reps)[:, :k]

    def extra_repr(self) -> str:
        return (
            f"model={self.model!r}, delay_spread={self.delay_spread}, carrier_frequency={self.carrier_frequency}, "
            f"speed={self.speed}, fft_size={self.fft_size}, subcarrier_spacing={self.subcarrier_spacing}, "
            + super().extra_repr()
        )
