"""Fashion-MNIST in its original IDX format (gzipped or not).

The Debian package `dataset-fashion-mnist` installs the four files under
/usr/share/datasets/fashion-mnist, which is the default root.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from .common import DatasetError, ImageDataset

DEFAULT_ROOT = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
HOW_TO_PROVIDE = ("install the Debian package `dataset-fashion-mnist` (apt-get install dataset-fashion-mnist) "
                  "or pass --data-root to a folder holding the four IDX files "
                  "(train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-...)")


def _find(root: Path, stem: str) -> Path:
    for candidate in (root / f"{stem}.gz", root / stem):
        if candidate.is_file():
            return candidate
    raise DatasetError(f"Fashion-MNIST file {stem}[.gz] not found in {root}: {HOW_TO_PROVIDE}")


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (magic: two zero bytes, a type code, the number of dimensions)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as err:
        raise DatasetError(f"cannot read IDX file {path}: {err}. {HOW_TO_PROVIDE}") from err
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DatasetError(f"{path} is not an unsigned-byte IDX file (bad magic). {HOW_TO_PROVIDE}")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{path}: truncated IDX header. {HOW_TO_PROVIDE}")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(shape))
    if len(data) - header != expected:
        raise DatasetError(f"{path}: header says {shape} ({expected} bytes) but the file holds "
                           f"{len(data) - header} data bytes. {HOW_TO_PROVIDE}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def load_fashion_mnist(split: str = "train", root: str | Path | None = None) -> ImageDataset:
    root = Path(root) if root is not None else DEFAULT_ROOT
    if split not in _FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not root.is_dir():
        raise DatasetError(f"Fashion-MNIST folder {root} does not exist: {HOW_TO_PROVIDE}")
    image_stem, label_stem = _FILES[split]
    images = read_idx(_find(root, image_stem))
    labels = read_idx(_find(root, label_stem))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetError(f"Fashion-MNIST in {root}: images {images.shape} and labels {labels.shape} "
                           f"do not match. {HOW_TO_PROVIDE}")
    if labels.size and labels.max() >= len(CLASSES):
        raise DatasetError(f"Fashion-MNIST in {root}: label {labels.max()} out of range. {HOW_TO_PROVIDE}")
    return ImageDataset(images[:, None, :, :], labels, "fashion-mnist", CLASSES)
