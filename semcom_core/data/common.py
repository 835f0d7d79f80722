"""Shared pieces of the dataset readers."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset


class DatasetError(RuntimeError):
    """A dataset is missing or malformed; the message names the path and how to provide it."""


class ImageDataset(Dataset):
    """Images held as uint8 [N, C, H, W] with integer labels; items are (float [C,H,W] in [0,1], label)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, name: str, classes: list[str]):
        if images.ndim != 4 or images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 [N,C,H,W], got {images.dtype} {images.shape}")
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = torch.from_numpy(np.array(images, copy=True))
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        self.name = name
        self.classes = classes

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        return self.images[index].float() / 255.0, int(self.labels[index])

    def batch(self, indices) -> tuple[torch.Tensor, torch.Tensor]:
        """Images [B,C,H,W] in [0,1] and labels [B] for the given indices, without a DataLoader."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        return self.images[idx].float() / 255.0, self.labels[idx]
