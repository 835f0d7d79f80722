"""Dataset readers: the embedded Fashion-MNIST default and CIFAR-10 from its standard folder."""

from .common import DatasetError, ImageDataset
from .registry import DATASET_NAMES, dataset_info, load_dataset

__all__ = ["DatasetError", "ImageDataset", "DATASET_NAMES", "dataset_info", "load_dataset"]
