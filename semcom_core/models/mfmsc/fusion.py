"""MFMSC fusion module (paper Section IV-B, Fig. 6).

Step 1 concatenates the modalities' token sequences (eq. 9); step 2 adds each modality's segment embedding
and no position embedding (eq. 10), then joins the task token (L = L' + 1); step 3 runs post-LN transformer
layers with GELU feed-forward (eqs. 11-14), or pre-LN layers (``pre_norm``), which train at depth 6 where
post-LN needs a long warm-up; step 4 averages the valid tokens into one vector.

Departure from eq. 13 as printed: attention scores are scaled by 1/sqrt(dim / heads) (torch's standard
multi-head attention), not 1/sqrt(P).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .common import MaskedTransformer, check_heads, masked_mean, require_mask, require_shape


class FusionModule(nn.Module):
    """Fuses per-modality token sequences and a task token into one vector [B, dim].

    Without position embeddings the result does not depend on the order of the tokens (nor of the
    modalities, when their segment ids move with them); padded tokens are neither attended to nor averaged.
    The task token is always valid, so no row is ever empty."""

    def __init__(self, dim: int = 96, layers: int = 6, heads: int = 12, num_segments: int = 4,
                 ffn: int | None = None, dropout: float = 0.1, pre_norm: bool = False):
        super().__init__()
        check_heads(dim, heads)
        self.dim, self.num_segments = dim, num_segments
        self.segments = nn.Embedding(num_segments, dim)
        self.transformer = MaskedTransformer(dim, layers, heads, ffn or 4 * dim, dropout, pre_norm=pre_norm)

    def _check(self, modalities: Sequence[tuple[torch.Tensor, torch.Tensor]], segment_ids: Sequence[int],
               task_token: torch.Tensor) -> None:
        if len(modalities) == 0 or len(modalities) != len(segment_ids):
            raise ValueError(f"expected one segment id per modality and at least one modality, got "
                             f"{len(modalities)} modalities and {len(segment_ids)} segment ids")
        require_shape(task_token, (None, 1, self.dim), f"task token [B, 1, dim={self.dim}]")
        batch = task_token.shape[0]
        for j, (features, mask) in enumerate(modalities):
            require_shape(features, (batch, None, self.dim),
                          f"modality {j} features [B={batch}, L, dim={self.dim}]")
            require_mask(mask, batch, features.shape[1], f"modality {j} mask")
        for segment in segment_ids:
            if not 0 <= int(segment) < self.num_segments:
                raise ValueError(f"segment ids must lie in [0, num_segments={self.num_segments}), got {segment}")

    def forward(self, modalities: Sequence[tuple[torch.Tensor, torch.Tensor]], segment_ids: Sequence[int],
                task_token: torch.Tensor) -> torch.Tensor:
        """modalities: (features [B, L_j, dim], mask [B, L_j] bool) per modality; segment_ids: one int per
        modality; task_token [B, 1, dim] -> fused features [B, dim]."""
        self._check(modalities, segment_ids, task_token)
        segment_table = self.segments.weight
        tokens = [task_token] + [features + segment_table[int(segment)]
                                 for (features, _), segment in zip(modalities, segment_ids)]
        task_valid = torch.ones(task_token.shape[0], 1, dtype=torch.bool, device=task_token.device)
        mask = torch.cat([task_valid] + [m for _, m in modalities], dim=1)
        hidden = self.transformer(torch.cat(tokens, dim=1), mask)
        return masked_mean(hidden, mask)
