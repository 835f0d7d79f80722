"""Inference precision of a bundle's networks: float32, or bfloat16 autocast where the CPU computes it natively.

``"auto"`` picks bfloat16 on CPUs with bf16 instructions (AVX512-BF16 or AMX), where oneDNN runs the
convolutions and matrix products about twice as fast, and float32 elsewhere (emulated bf16 is slower than
float32). Only the networks run in bf16; the symbol codec, the channel and everything the link computes on the
symbols stay in float32, and every network output is returned as float32. The shipped bundles keep their
PSNR within 0.05 dB and their decisions in bf16 (``tests/bundles/test_inference_precision.py``).
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import torch

PRECISIONS = ("auto", "fp32", "bf16")
_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.lru_cache(maxsize=1)
def native_bf16() -> bool:
    """True when this CPU has bf16 instructions (Linux ``/proc/cpuinfo``; False where it cannot be read)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return any(flag in flags for flag in _BF16_FLAGS)


def resolve_precision(precision: str) -> str:
    """``"fp32"`` or ``"bf16"`` for a requested precision (``"auto"``: bf16 where the CPU has it natively)."""
    precision = str(precision or "fp32").lower()
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return "bf16" if native_bf16() else "fp32"
    return precision


def inference_autocast(precision: str):
    """The context the networks run in for ``precision``: bf16 autocast on the CPU, or nothing."""
    if resolve_precision(precision) == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()
