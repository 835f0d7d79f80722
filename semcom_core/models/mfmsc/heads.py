"""MFMSC task heads, the "lite" semantic decoder of paper Section IV-E: one or two linear layers each.

All heads take received features [B, L, dim] with an optional validity mask [B, L] (None: all valid);
a fused vector is passed as L = 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .common import masked_mean, require_mask, require_shape


@dataclass(frozen=True)
class TaskHeadSpec:
    """What the network needs to know of a task: its modalities, output kind and size."""

    name: str
    modalities: tuple[str, ...]
    kind: str
    outputs: int

    @property
    def multimodal(self) -> bool:
        return len(self.modalities) > 1


def _check_tokens(x: torch.Tensor, mask: torch.Tensor | None, dim: int) -> torch.Tensor:
    """Validate x [B, L, dim] and return its mask (all True when None)."""
    require_shape(x, (None, None, dim), f"received features [B, L, dim={dim}]")
    if mask is None:
        return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    require_mask(mask, x.shape[0], x.shape[1])
    return mask


class PooledHead(nn.Module):
    """Masked mean over tokens, then Linear (or Linear-GELU-Linear with ``hidden``) -> logits [B, outputs].
    For classification, VQA answers and multi-label logits."""

    def __init__(self, dim: int, outputs: int, hidden: int | None = None):
        super().__init__()
        self.dim = dim
        self.classifier = (nn.Linear(dim, outputs) if hidden is None else
                           nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, outputs)))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.classifier(masked_mean(x, _check_tokens(x, mask, self.dim)))


class TokenHead(nn.Module):
    """Per-token Linear -> logits [B, L, outputs] (text reconstruction over the vocabulary, CTC over
    characters incl. blank). Padded positions get logits too; the loss masks them."""

    def __init__(self, dim: int, outputs: int):
        super().__init__()
        self.dim = dim
        self.classifier = nn.Linear(dim, outputs)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        _check_tokens(x, mask, self.dim)
        return self.classifier(x)


class PatchImageHead(nn.Module):
    """Image reconstruction from a grid of tokens: each token is mapped linearly to a C x ph x pw patch
    (ph = ceil(H / grid_h), pw = ceil(W / grid_w)); the patches are tiled in raster order (the
    ImageEncoder's token order), cropped to H x W and squashed by a sigmoid into [0, 1]."""

    def __init__(self, dim: int, grid: tuple[int, int] = (4, 4), image: tuple[int, int, int] = (1, 28, 28)):
        super().__init__()
        self.dim, self.grid, self.image = dim, tuple(grid), tuple(image)
        channels, height, width = self.image
        self.patch = (math.ceil(height / self.grid[0]), math.ceil(width / self.grid[1]))
        self.to_patch = nn.Linear(dim, channels * self.patch[0] * self.patch[1])

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, grid_h * grid_w, dim] -> images [B, C, H, W] in [0, 1]."""
        (grid_h, grid_w), (patch_h, patch_w) = self.grid, self.patch
        require_shape(x, (None, grid_h * grid_w, self.dim),
                      f"image tokens [B, grid_h*grid_w={grid_h * grid_w}, dim={self.dim}]")
        _check_tokens(x, mask, self.dim)
        channels, height, width = self.image
        patches = self.to_patch(x).view(-1, grid_h, grid_w, channels, patch_h, patch_w)
        images = patches.permute(0, 3, 1, 4, 2, 5).reshape(-1, channels, grid_h * patch_h, grid_w * patch_w)
        return torch.sigmoid(images[:, :, :height, :width])
