"""Dataset names and the one loader every command uses."""

from __future__ import annotations

from pathlib import Path

from .cifar10 import load_cifar10
from .common import ImageDataset
from .fashion_mnist import load_fashion_mnist

_LOADERS = {"fashion-mnist": load_fashion_mnist, "cifar10": load_cifar10}
_INFO = {"fashion-mnist": {"image_shape": [1, 28, 28], "num_classes": 10},
         "cifar10": {"image_shape": [3, 32, 32], "num_classes": 10}}
DATASET_NAMES = tuple(_LOADERS)


def dataset_info(name: str) -> dict:
    """Static facts (image shape, number of classes) without reading files."""
    if name not in _INFO:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASET_NAMES)}")
    return dict(_INFO[name])


def load_dataset(name: str, split: str = "train", root: str | Path | None = None) -> ImageDataset:
    if name not in _LOADERS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASET_NAMES)}")
    return _LOADERS[name](split=split, root=root)
