"""Dataset names and the loaders every command uses: images, and multi-modal (RGB-D) samples."""

from __future__ import annotations

from pathlib import Path

from .cifar10 import load_cifar10
from .common import ImageDataset
from .fashion_mnist import load_fashion_mnist
from .multimodal import MultiModalDataset

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


MULTIMODAL_DATASETS = ("rgbd-scenes", "rgbd-scenes-cluttered", "nyu-depth-v2")


def load_multimodal_dataset(name: str, split: str = "train", root=None, size: int | None = None,
                            train_size: int = 2000, test_size: int = 1000, seed: int = 0) -> MultiModalDataset:
    """The embedded RGB-D scenes (generated; `size`, sizes and seed apply) or NYU Depth V2 from `root`."""
    if name in ("rgbd-scenes", "rgbd-scenes-cluttered"):
        from .rgbd_scenes import load_rgbd_scenes   # generated on demand: import only when asked for

        return load_rgbd_scenes(split, size=size or 32, train_size=train_size, test_size=test_size, seed=seed,
                                clutter=name.endswith("cluttered"))
    if name == "nyu-depth-v2":
        from .nyu_depth_v2 import load_nyu_depth_v2   # h5py and scipy: import only when asked for

        return load_nyu_depth_v2(split, root=root, size=size)
    raise ValueError(f"unknown multi-modal dataset {name!r}; known: {', '.join(MULTIMODAL_DATASETS)}")
