"""Channel codes behind one interface (:class:`ChannelCode`) and a factory.

- :class:`WimaxLDPC`: IEEE 802.16e QC-LDPC codes with a fast layered min-sum decoder (numba);
- :class:`NRLDPC`: 5G NR LDPC through Sionna;
- :class:`TurboCode`: the LTE turbo code with a CRC, through Sionna.

``make_code({"family": "wimax", "rate": "3/4", "n": 576})``, ``make_code({"family": "nr",
"k": 1152, "n": 2304})``, ``make_code({"family": "turbo", "k": 1000})``; a plain string names a
family with its defaults (``make_code("wimax")``).
"""

from __future__ import annotations

import inspect

from .base import ChannelCode, DecodeResult
from .nr import NRLDPC
from .turbo import TurboCode
from .wimax import WimaxLDPC

__all__ = ["ChannelCode", "DecodeResult", "WimaxLDPC", "NRLDPC", "TurboCode", "FAMILIES", "make_code"]

FAMILIES = {"wimax": WimaxLDPC, "nr": NRLDPC, "turbo": TurboCode}


def make_code(spec: dict | str) -> ChannelCode:
    """Build a code from ``{"family": ..., **arguments}`` or a family name."""
    if isinstance(spec, str):
        spec = {"family": spec}
    if not isinstance(spec, dict):
        raise ValueError(f"code spec must be a dict or a family name, got {type(spec).__name__}")
    args = dict(spec)
    family = args.pop("family", None)
    if family not in FAMILIES:
        raise ValueError(f"unknown code family {family!r}; choose one of {', '.join(FAMILIES)}")
    cls = FAMILIES[family]
    params = inspect.signature(cls).parameters
    unknown = sorted(set(args) - set(params))
    if unknown:
        raise ValueError(f"{family} code: unknown argument(s) {', '.join(unknown)}; it takes {', '.join(params)}")
    missing = [p for p, v in params.items() if v.default is inspect.Parameter.empty and p not in args]
    if missing:
        raise ValueError(f"{family} code needs {', '.join(missing)}")
    return cls(**args)
