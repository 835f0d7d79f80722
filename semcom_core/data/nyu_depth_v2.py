"""NYU Depth V2 (labelled set) as an RGB + depth multi-modal dataset with the 10-class scene protocol.

Reads the official `nyu_depth_v2_labeled.mat` (MATLAB v7.3, i.e. HDF5) and `splits.mat` (MATLAB v5).
MATLAB stores arrays column-major, so h5py sees `images` as (N, 3, W, H), `depths` as (N, W, H) in metres
and `sceneTypes` as a cell array of references to uint16 character codes. Samples are kept in ascending
image order; images are read in chunks so the 1449-image file never sits in memory at native size twice.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from scipy.io import loadmat

from .common import DatasetError
from .multimodal import MultiModalDataset, fill_depth_holes

CLASSES = ["bathroom", "bedroom", "bookstore", "classroom", "dining_room", "home_office", "kitchen",
           "living_room", "office", "others"]
_OTHERS = ["basement", "cafe", "computer_lab", "conference_room", "dinette", "exercise_room", "foyer",
           "furniture_store", "home_storage", "indoor_balcony", "laundry_room", "office_kitchen", "playroom",
           "printer_room", "reception_room", "student_lounge", "study", "study_room"]
SCENE_TO_CLASS = {**{name: i for i, name in enumerate(CLASSES[:-1])}, **{name: len(CLASSES) - 1 for name in _OTHERS}}
LABELED_FILE, SPLITS_FILE = "nyu_depth_v2_labeled.mat", "splits.mat"
HOW_TO_PROVIDE = ("download the two official files, "
                  "http://horatio.cs.nyu.edu/mit/silberman/nyu_depth_v2/nyu_depth_v2_labeled.mat and "
                  "http://horatio.cs.nyu.edu/mit/silberman/indoor_seg_sup/splits.mat, into one folder and pass it "
                  "as root (or set SEMCOM_NYU_ROOT)")
CHUNK = 64


def _paths(root) -> tuple[Path, Path]:
    if root is None:
        root = os.environ.get("SEMCOM_NYU_ROOT") or Path.home() / "datasets" / "nyu_depth_v2"
    root = Path(root).expanduser()
    labeled = root if root.suffix == ".mat" else root / LABELED_FILE
    splits = labeled.parent / SPLITS_FILE
    if not labeled.parent.is_dir():
        raise DatasetError(f"NYU Depth V2 folder {labeled.parent} does not exist: {HOW_TO_PROVIDE}")
    for path in (labeled, splits):
        if not path.is_file():
            raise DatasetError(f"NYU Depth V2 file {path} is missing: {HOW_TO_PROVIDE}")
    return labeled, splits


def _split_indices(path: Path, split: str, n: int) -> np.ndarray:
    """0-based, ascending image indices of a split from the 1-based `trainNdxs` / `testNdxs`."""
    key = "trainNdxs" if split == "train" else "testNdxs"
    try:
        raw = loadmat(str(path), variable_names=[key]).get(key)
    except Exception as err:  # scipy raises several types on a foreign or v7.3 file
        raise DatasetError(f"{path} is not a MATLAB v5 splits file ({err}). {HOW_TO_PROVIDE}") from err
    if raw is None:
        raise DatasetError(f"{path} lacks {key}. {HOW_TO_PROVIDE}")
    idx = np.asarray(raw).astype(np.int64).ravel() - 1
    if idx.size == 0 or idx.min() < 0 or idx.max() >= n:
        raise DatasetError(f"{path}: {key} must be 1-based indices in 1..{n}, got "
                           f"{'none' if idx.size == 0 else f'{idx.min() + 1}..{idx.max() + 1}'}")
    if len(np.unique(idx)) != len(idx):
        raise DatasetError(f"{path}: {key} repeats image indices")
    return np.sort(idx)


def _scene_names(f, path: Path) -> list[str]:
    refs = np.asarray(f["sceneTypes"][()]).ravel()  # cell array (1, N) or (N, 1) of object references
    try:
        return ["".join(map(chr, np.asarray(f[ref][()]).ravel())) for ref in refs]
    except Exception as err:
        raise DatasetError(f"{path}: sceneTypes is not a cell array of strings ({err})") from err


def _resize(x: torch.Tensor, size) -> torch.Tensor:
    if size is None or tuple(x.shape[-2:]) == size:
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


def load_nyu_depth_v2(split: str = "train", root=None, size=None, depth_max: float = 10.0) -> MultiModalDataset:
    """RGB uint8 [N,3,H,W] and depth [N,1,H,W] (holes filled, metres / depth_max clamped to [0,1])."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not depth_max > 0:
        raise ValueError(f"depth_max must be positive, got {depth_max}")
    size = (size, size) if isinstance(size, int) else (tuple(size) if size is not None else None)
    labeled, splits = _paths(root)
    if not h5py.is_hdf5(str(labeled)):
        raise DatasetError(f"{labeled} is not an HDF5 (MATLAB v7.3) file. {HOW_TO_PROVIDE}")
    with h5py.File(labeled, "r") as f:
        missing = [k for k in ("images", "depths", "sceneTypes") if k not in f]
        if missing:
            raise DatasetError(f"{labeled} lacks dataset(s) {', '.join(missing)}. {HOW_TO_PROVIDE}")
        images, depths = f["images"], f["depths"]
        scenes = _scene_names(f, labeled)
        n = len(scenes)
        if images.ndim != 4 or images.shape[:2] != (n, 3) or depths.shape != (n, *images.shape[2:]):
            raise DatasetError(f"{labeled}: inconsistent shapes images {images.shape}, depths {depths.shape}, "
                               f"{n} scene types; expected (N, 3, W, H), (N, W, H) and N")
        unknown = sorted({s for s in scenes if s not in SCENE_TO_CLASS})
        if unknown:
            raise DatasetError(f"{labeled}: unknown scene type(s) {unknown}; known: {sorted(SCENE_TO_CLASS)}")
        idx = _split_indices(splits, split, n)
        out_hw = size or (images.shape[3], images.shape[2])
        rgb = torch.empty((len(idx), 3, *out_hw), dtype=torch.uint8)
        depth = torch.empty((len(idx), 1, *out_hw), dtype=torch.float32)
        holes = 0
        for start in range(0, len(idx), CHUNK):
            chunk = idx[start:start + CHUNK].tolist()  # ascending, as h5py requires
            img = torch.from_numpy(np.asarray(images[chunk])).transpose(2, 3)  # (n, 3, W, H) -> (n, 3, H, W)
            img = _resize(img.float(), size).round().clamp(0, 255).to(torch.uint8) if size else img
            try:
                dep, filled = fill_depth_holes(torch.from_numpy(np.asarray(depths[chunk], np.float32)).transpose(1, 2))
            except DatasetError as err:  # its indices count within the chunk
                raise DatasetError(f"{labeled}, images {chunk[0] + 1}..{chunk[-1] + 1} (1-based): {err}") from err
            rgb[start:start + len(chunk)] = img
            depth[start:start + len(chunk)] = (_resize(dep, size) / depth_max).clamp(0, 1)
            holes += filled
    labels = [SCENE_TO_CLASS[scenes[i]] for i in idx]
    dataset = MultiModalDataset({"rgb": rgb, "depth": depth}, labels, "nyu-depth-v2", CLASSES)
    dataset.holes_filled = holes
    return dataset
