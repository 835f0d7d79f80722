"""Multi-modal datasets: one array per modality (RGB, depth, ...) sharing one label per sample.

Every modality is held as a tensor [N, C, H, W]: uint8 (read as value / 255) or float already scaled to
[0, 1]. Items are (tuple of float tensors, one per modality, label). Depth maps from real sensors have
holes (NaN, inf, zero); :func:`fill_depth_holes` fills them before they get here, so a dataset never
holds a non-finite value.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .common import DatasetError


class MultiModalDataset(Dataset):
    """Modalities by name (order kept: it is the device order of the system) and integer labels."""

    def __init__(self, modalities: dict[str, torch.Tensor | np.ndarray], labels, name: str, classes: list[str]):
        if not modalities:
            raise ValueError("a multi-modal dataset needs at least one modality")
        self.arrays: dict[str, torch.Tensor] = {}
        labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
        for key, array in modalities.items():
            tensor = torch.as_tensor(array)
            if tensor.ndim != 4:
                raise ValueError(f"modality {key!r} must be [N, C, H, W], got {tuple(tensor.shape)}")
            if len(tensor) != len(labels):
                raise ValueError(f"modality {key!r} has {len(tensor)} samples but there are {len(labels)} labels")
            if tensor.dtype != torch.uint8:
                tensor = tensor.float()
                if not bool(torch.isfinite(tensor).all()):
                    raise DatasetError(f"modality {key!r} of {name} holds NaN or inf values; fill depth holes "
                                       "with semcom_core.data.multimodal.fill_depth_holes first")
            self.arrays[key] = tensor
        if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
            raise ValueError(f"labels must be in [0, {len(classes)}), got [{int(labels.min())}, {int(labels.max())}]")
        self.labels = labels
        self.name = name
        self.classes = list(classes)

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self.arrays)

    @property
    def shapes(self) -> dict[str, tuple[int, int, int]]:
        return {key: tuple(array.shape[1:]) for key, array in self.arrays.items()}

    def __len__(self) -> int:
        return len(self.labels)

    @staticmethod
    def _as_float(tensor: torch.Tensor) -> torch.Tensor:
        return tensor.float() / 255.0 if tensor.dtype == torch.uint8 else tensor.float()

    def __getitem__(self, index: int):
        return tuple(self._as_float(a[index]) for a in self.arrays.values()), int(self.labels[index])

    def batch(self, indices) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Modalities [B, C, H, W] in [0, 1] and labels [B] for the given indices, without a DataLoader."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        return [self._as_float(a[idx]) for a in self.arrays.values()], self.labels[idx]

    def subset(self, indices) -> "MultiModalDataset":
        idx = torch.as_tensor(indices, dtype=torch.long)
        return MultiModalDataset({k: a[idx] for k, a in self.arrays.items()}, self.labels[idx], self.name, self.classes)

    def select(self, names) -> "MultiModalDataset":
        """The same samples with only the named modalities (one modality alone, as a reference)."""
        missing = [n for n in names if n not in self.arrays]
        if missing:
            raise ValueError(f"{self.name} has no modality {', '.join(missing)}; it has {', '.join(self.modalities)}")
        return MultiModalDataset({n: self.arrays[n] for n in names}, self.labels, self.name, self.classes)


def fill_depth_holes(depth, max_passes: int = 64) -> tuple[torch.Tensor, int]:
    """Fill the holes of depth maps [N, 1, H, W] (or [N, H, W]); returns (filled float tensor, holes filled).

    A hole is a pixel that is NaN, inf or <= 0 (sensors report "no return" as 0). Holes are filled by
    repeated 3x3 averaging of valid neighbours (normalised convolution), so a hole takes the mean depth of
    the valid pixels around it and larger holes fill from their rims inward. A map with no valid pixel at
    all cannot be filled and raises DatasetError naming its index.
    """
    d = torch.as_tensor(np.asarray(depth) if not isinstance(depth, torch.Tensor) else depth).float()
    if d.ndim == 3:
        d = d[:, None]
    if d.ndim != 4 or d.shape[1] != 1:
        raise ValueError(f"depth maps must be [N, 1, H, W] or [N, H, W], got {tuple(d.shape)}")
    valid = torch.isfinite(d) & (d > 0)
    holes = int((~valid).sum())
    empty = (~valid.flatten(1).any(1)).nonzero().flatten()
    if len(empty):
        raise DatasetError(f"depth map(s) {empty[:10].tolist()} have no valid pixel: nothing to fill holes from")
    if holes == 0:
        return d, 0
    d = torch.where(valid, d, torch.zeros_like(d))
    weight = valid.float()
    for _ in range(max_passes):
        if bool(weight.bool().all()):
            break
        total = F.avg_pool2d(d * weight, 3, 1, 1, count_include_pad=False)
        count = F.avg_pool2d(weight, 3, 1, 1, count_include_pad=False)
        grown = (count > 0) & ~weight.bool()
        d = torch.where(grown, total / count.clamp_min(1e-12), d)
        weight = torch.where(grown, torch.ones_like(weight), weight)
    if not bool(weight.bool().all()):  # holes wider than 2 * max_passes pixels: take the map's mean
        mean = (d * weight).flatten(1).sum(1) / weight.flatten(1).sum(1)
        d = torch.where(weight.bool(), d, mean.view(-1, 1, 1, 1).expand_as(d))
    return d, holes
