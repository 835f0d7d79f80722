"""Symbol-level channels: ``y = h s + n`` followed by equalisation.

All channels take complex symbols ``[B, k]`` of unit average power and an SNR
(Es/N0 in dB, a number or a ``[B]`` tensor) and are differentiable with
respect to the symbols.

    >>> from semcom_core.channels import make_channel
    >>> ch = make_channel("rayleigh", csi="ls", pilots=4)
    >>> y_eq = ch(s, snr_db=10.0)          # equalised symbols
    >>> out = ch.transmit(s, snr_db=10.0)  # y, h, h_est, y_eq, noise_var
"""

from __future__ import annotations

import inspect

from .awgn import AWGNChannel
from .base import CSI_MODES, Channel, ChannelOutput
from .fading import FadingChannel
from .tdl import TDL_MODELS, TDLChannel
from .tdl_samples import TDLSampleChannel

__all__ = [
    "AWGNChannel",
    "CHANNEL_NAMES",
    "CSI_MODES",
    "Channel",
    "ChannelOutput",
    "FadingChannel",
    "TDLChannel",
    "TDLSampleChannel",
    "TDL_MODELS",
    "make_channel",
]

CHANNEL_NAMES = ("awgn", "rayleigh", "rayleigh_fast", "rician", "tdl")

# name -> (class, defaults that define the name)
_REGISTRY = {
    "awgn": (AWGNChannel, {}),
    "rayleigh": (FadingChannel, {"coherence": None, "k_factor": 0.0}),
    "rayleigh_fast": (FadingChannel, {"coherence": 1, "k_factor": 0.0}),
    "rician": (FadingChannel, {"coherence": None, "k_factor": 3.0}),
    "tdl": (TDLChannel, {}),
}


def make_channel(name: str, csi: str = "perfect", pilots: int = 4, **kwargs) -> Channel:
    """Build a channel by name.

    Args:
        name: one of :data:`CHANNEL_NAMES`:
            ``"awgn"``; ``"rayleigh"`` (block fading, one gain per frame);
            ``"rayleigh_fast"`` (new gain every ``coherence`` symbols, default 1);
            ``"rician"`` (block fading, ``k_factor`` default 3; pass
            ``coherence`` for fast Rician fading); ``"tdl"`` (see
            :class:`TDLChannel` for ``model``, ``delay_spread``,
            ``carrier_frequency``, ``speed``, ``fft_size``, ``subcarrier_spacing``).
        csi: ``"perfect"`` or ``"ls"``.
        pilots: pilot symbols per coherence block for ``csi="ls"``.
        **kwargs: further arguments of the channel class, e.g. ``generator``.

    Raises:
        ValueError: unknown name, an argument the channel does not take, or a
            bad argument value.
    """
    key = str(name).strip().lower().replace("-", "_")
    if key not in _REGISTRY:
        raise ValueError(f"unknown channel {name!r}; valid names: {', '.join(CHANNEL_NAMES)}")
    cls, defaults = _REGISTRY[key]
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise ValueError(
            f"channel {key!r} does not take {', '.join(unknown)}; it accepts {', '.join(sorted(accepted))}"
        )
    return cls(csi=csi, pilots=pilots, **{**defaults, **kwargs})
