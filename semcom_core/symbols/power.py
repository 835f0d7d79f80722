"""Power normalisation and real <-> complex symbol packing."""

from __future__ import annotations

import torch

__all__ = ["normalize_power", "real_to_complex", "complex_to_real"]


def normalize_power(s: torch.Tensor, sent: torch.Tensor | None = None, eps: float = 1e-12) -> torch.Tensor:
    """Scale each row to unit average power over the symbols sent (P = 1).

    ``s`` is ``[B, ...]``, real or complex; the norm runs over all but the first dimension. ``sent``
    (``[B]``) counts the entries of each row that are sent (the others are zero and carry no power);
    default: all of them, i.e. ``s * sqrt(k) / ||s||``. Rows of zeros stay zero. Differentiable.
    """
    if s.dim() < 2:
        raise ValueError(f"normalize_power expects [B, k], got shape {tuple(s.shape)}")
    norm = torch.linalg.vector_norm(s.reshape(s.shape[0], -1), dim=1).clamp_min(eps)
    count = torch.full_like(norm, s[0].numel()) if sent is None else sent.to(norm.dtype)
    scale = count.sqrt() / norm
    return s * scale.reshape(-1, *([1] * (s.dim() - 1)))


def real_to_complex(z: torch.Tensor) -> torch.Tensor:
    """Pack real ``[B, 2k]`` into complex ``[B, k]``: symbol ``i`` is ``z[:, 2i] + j z[:, 2i+1]``.

    float64 input gives complex128, anything else complex64. Differentiable.
    """
    if z.dim() != 2 or z.shape[1] % 2:
        raise ValueError(f"real_to_complex expects [B, 2k] with an even width, got {tuple(z.shape)}")
    if z.is_complex():
        raise ValueError("real_to_complex expects a real tensor")
    if z.dtype != torch.float64:
        z = z.float()
    return torch.view_as_complex(z.reshape(z.shape[0], -1, 2).contiguous())


def complex_to_real(s: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`real_to_complex`: complex ``[B, k]`` -> real ``[B, 2k]``."""
    if s.dim() != 2 or not s.is_complex():
        raise ValueError(f"complex_to_real expects a complex [B, k] tensor, got {s.dtype} {tuple(s.shape)}")
    return torch.view_as_real(s).reshape(s.shape[0], -1)
