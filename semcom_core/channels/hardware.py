"""Radio hardware on the symbols: a Rapp power amplifier at the transmitter, IQ imbalance and phase noise
at the receiver. They act around the propagation channel of :class:`~.base.Channel` (``y = h PA(s) + n``,
then the receiver's IQ imbalance and phase noise, then equalisation), so that a transceiver can be trained
or tested against the radios it will meet.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

__all__ = ["RadioImpairments"]


@dataclass(frozen=True)
class RadioImpairments:
    """Args:
        pa_backoff_db: input back-off of the transmitter's power amplifier: its saturation amplitude lies
            this many dB above the symbols' RMS amplitude (1). None: a linear amplifier.
        pa_smoothness: the Rapp model's p (large: a hard clipper; 2 to 3 for solid-state amplifiers).
        iq_gain_db, iq_phase_deg: the receiver's IQ imbalance, amplitude and phase mismatch of its Q branch.
        phase_noise_deg: standard deviation of the oscillator's phase increment from one symbol to the
            next (a Wiener process along the frame; its phase at the first symbol is the one the equaliser's
            channel estimate already holds).
    """

    pa_backoff_db: float | None = None
    pa_smoothness: float = 2.0
    iq_gain_db: float = 0.0
    iq_phase_deg: float = 0.0
    phase_noise_deg: float = 0.0

    def __post_init__(self):
        for name, value in asdict(self).items():
            if value is not None and not math.isfinite(float(value)):
                raise ValueError(f"{name} must be finite, got {value!r}")
        if self.pa_smoothness <= 0:
            raise ValueError(f"pa_smoothness must be > 0, got {self.pa_smoothness}")
        if self.phase_noise_deg < 0:
            raise ValueError(f"phase_noise_deg must be >= 0, got {self.phase_noise_deg}")

    @classmethod
    def of(cls, value) -> RadioImpairments | None:
        """From a RadioImpairments, a dict of its fields (a config, a block's ``extra``), or None."""
        if value is None or isinstance(value, cls):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"impairments must be a dict of {', '.join(cls.__dataclass_fields__)}, got {value!r}")
        unknown = sorted(set(value) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown impairments {unknown}; known: {', '.join(cls.__dataclass_fields__)}")
        return cls(**value)

    # -- the three effects ---------------------------------------------------------------------------------
    def amplify(self, s: torch.Tensor) -> torch.Tensor:
        """Rapp AM/AM: |out| = |s| / (1 + (|s| / A_sat)^(2p))^(1 / 2p), phase kept; A_sat = 10^(back-off / 20)."""
        if self.pa_backoff_db is None:
            return s
        saturation = 10 ** (self.pa_backoff_db / 20)
        p = self.pa_smoothness
        gain = (1 + (s.abs() / saturation) ** (2 * p)) ** (-1 / (2 * p))
        return s * gain.to(s.real.dtype)

    def receive(self, y: torch.Tensor, generator=None) -> torch.Tensor:
        """The receiver's phase noise, then its IQ imbalance: y -> mu y' + nu conj(y'), with
        mu = (1 + g e^(-j phi)) / 2 and nu = (1 - g e^(j phi)) / 2."""
        if self.phase_noise_deg > 0:
            steps = torch.randn(y.shape, generator=generator, device=y.device) * math.radians(self.phase_noise_deg)
            steps[:, 0] = 0.0
            phase = steps.cumsum(dim=1)
            y = y * torch.polar(torch.ones_like(phase), phase).to(y.dtype)
        if self.iq_gain_db or self.iq_phase_deg:
            g, phi = 10 ** (self.iq_gain_db / 20), math.radians(self.iq_phase_deg)
            mu = (1 + g * complex(math.cos(phi), -math.sin(phi))) / 2
            nu = (1 - g * complex(math.cos(phi), math.sin(phi))) / 2
            y = mu * y + nu * y.conj()
        return y

    def image_rejection_db(self) -> float:
        """The IQ imbalance's image rejection ratio |mu|^2 / |nu|^2 in dB (inf without imbalance)."""
        g, phi = 10 ** (self.iq_gain_db / 20), math.radians(self.iq_phase_deg)
        mu = abs((1 + g * complex(math.cos(phi), -math.sin(phi))) / 2) ** 2
        nu = abs((1 - g * complex(math.cos(phi), math.sin(phi))) / 2) ** 2
        return math.inf if nu == 0 else 10 * math.log10(mu / nu)
