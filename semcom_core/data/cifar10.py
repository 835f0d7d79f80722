"""CIFAR-10 from its standard python-pickle folder (`cifar-10-batches-py`).

The folder holds data_batch_1..5 and test_batch, each a pickled dict with b"data" (uint8 N x 3072,
channel-major rows) and b"labels". Only plain arrays are read: the unpickler refuses any class
other than numpy's array reconstruction, so a tampered file cannot run code.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from .common import DatasetError, ImageDataset

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_FILES = ["test_batch"]
HOW_TO_PROVIDE = ("download and unpack the python version of CIFAR-10 (cifar-10-python.tar.gz) and give the "
                  "unpacked `cifar-10-batches-py` folder (it holds data_batch_1..5 and test_batch) as "
                  "`--data-root DIR` (semcom train, export, eval) or `dataset.root` in the config")

_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            batch = _ArrayOnlyUnpickler(f, encoding="bytes").load()
    except FileNotFoundError as err:
        raise DatasetError(f"CIFAR-10 file {path} is missing: {HOW_TO_PROVIDE}") from err
    except Exception as err:  # any unpickling failure means a corrupt or foreign file
        raise DatasetError(f"CIFAR-10 file {path} is not a valid batch ({err}). {HOW_TO_PROVIDE}") from err
    if isinstance(batch, dict):   # the original files have bytes keys; re-pickled ones often str keys
        batch = {k.encode() if isinstance(k, str) else k: v for k, v in batch.items()}
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        found = sorted(map(repr, batch)) if isinstance(batch, dict) else type(batch).__name__
        raise DatasetError(f"CIFAR-10 file {path} holds {found}: a CIFAR-10 batch is a dict with 'data' "
                           f"(uint8 N x 3072, channel-major rows) and 'labels' (N ints 0..9). {HOW_TO_PROVIDE}")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(labels):
        raise DatasetError(f"CIFAR-10 file {path}: data {data.dtype} {data.shape} with {len(labels)} labels, "
                           f"expected uint8 N x 3072. {HOW_TO_PROVIDE}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DatasetError(f"CIFAR-10 file {path}: labels outside 0..9. {HOW_TO_PROVIDE}")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar10(split: str = "train", root: str | Path | None = None) -> ImageDataset:
    if root is None:
        raise DatasetError(f"CIFAR-10 is not embedded: {HOW_TO_PROVIDE}")
    root = Path(root)
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not root.is_dir():
        raise DatasetError(f"CIFAR-10 folder {root} does not exist: {HOW_TO_PROVIDE}")
    parts = [_read_batch(root / name) for name in (TRAIN_FILES if split == "train" else TEST_FILES)]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return ImageDataset(images, labels, "cifar10", CLASSES)
