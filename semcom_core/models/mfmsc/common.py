"""Helpers shared by the MFMSC modules: shape checks, masked pooling and masked transformer stacks.

Mask convention: ``mask[b, l]`` is True for a valid token and False for padding.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def require_shape(x: torch.Tensor, expected: Sequence[int | None], what: str) -> None:
    """Raise ValueError unless ``x`` has ``len(expected)`` axes whose sizes match ``expected``
    (None matches any size); ``what`` names the expected layout, e.g. "features [B, L, dim=96]"."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"expected a tensor for {what}, got {type(x).__name__}")
    ok = x.ndim == len(expected) and all(e is None or s == e for s, e in zip(x.shape, expected))
    if not ok:
        raise ValueError(f"expected {what}, got shape {tuple(x.shape)}")


def require_mask(mask: torch.Tensor, batch: int, length: int, what: str = "mask") -> None:
    """Raise ValueError unless ``mask`` is a bool tensor [batch, length]."""
    require_shape(mask, (batch, length), f"{what} [B={batch}, L={length}] bool")
    if mask.dtype != torch.bool:
        raise ValueError(f"{what} must be a bool tensor (True = valid token), got {mask.dtype}")


def require_integer(x: torch.Tensor, what: str) -> None:
    """Raise ValueError unless ``x`` holds integers (ids, lengths)."""
    if x.dtype.is_floating_point or x.dtype.is_complex or x.dtype == torch.bool:
        raise ValueError(f"{what} must be an integer (long) tensor, got {x.dtype}")


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` [B, L, D] over its valid tokens (``mask`` [B, L] bool) -> [B, D].

    A row without any valid token gives a zero vector (never NaN)."""
    require_shape(x, (None, None, None), "x [B, L, D]")
    require_mask(mask, x.shape[0], x.shape[1])
    weights = mask.to(x.dtype).unsqueeze(-1)
    count = weights.sum(dim=1).clamp_min(1.0)
    return (x * weights).sum(dim=1) / count


def attention_padding_mask(mask: torch.Tensor) -> torch.Tensor:
    """``src_key_padding_mask`` (True = ignore) for a validity mask [B, L].

    Attention over keys that are all padding is undefined (softmax of -inf everywhere gives NaN), so a row
    without valid tokens keeps its first token visible as a key. Its outputs are then finite but
    meaningless; callers still report the row as all padding, so pooling ignores it."""
    ignore = ~mask
    empty_rows = ignore.all(dim=1)
    if empty_rows.any():
        ignore = ignore.clone()
        ignore[empty_rows, 0] = False
    return ignore


def check_heads(dim: int, heads: int) -> None:
    """Multi-head attention splits ``dim`` into ``heads`` equal parts."""
    if dim < 1 or heads < 1 or dim % heads:
        raise ValueError(f"dim ({dim}) must be a positive multiple of heads ({heads})")


def transformer_layer(dim: int, heads: int, ffn: int | None, dropout: float, pre_norm: bool
                      ) -> nn.TransformerEncoderLayer:
    """One self-attention + GELU feed-forward layer on [B, L, dim] (post-LN unless ``pre_norm``)."""
    check_heads(dim, heads)
    return nn.TransformerEncoderLayer(dim, heads, dim_feedforward=ffn or 4 * dim, dropout=dropout,
                                      activation="gelu", batch_first=True, norm_first=pre_norm)


class MaskedTransformer(nn.Module):
    """A stack of transformer layers on tokens [B, L, dim] with a validity mask [B, L].

    Post-LN layers (BERT, paper eq. 11) by default; with ``pre_norm`` the layers normalise their inputs
    and a final LayerNorm normalises the output, as in ViT-style encoders."""

    def __init__(self, dim: int, layers: int, heads: int, ffn: int | None = None, dropout: float = 0.1,
                 pre_norm: bool = False):
        super().__init__()
        if layers < 0:
            raise ValueError(f"layers must be >= 0, got {layers}")
        self.layers = nn.ModuleList(transformer_layer(dim, heads, ffn, dropout, pre_norm) for _ in range(layers))
        self.final_norm = nn.LayerNorm(dim) if pre_norm else nn.Identity()

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        ignore = attention_padding_mask(mask)
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=ignore)
        return self.final_norm(x)
