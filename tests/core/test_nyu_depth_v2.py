"""NYU Depth V2 reader on small files written in the official layouts (HDF5 v7.3 labelled file, v5 splits)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.io
import torch

from semcom_core.data import nyu_depth_v2 as nyu
from semcom_core.data.common import DatasetError
from semcom_core.data.nyu_depth_v2 import CLASSES, SCENE_TO_CLASS, load_nyu_depth_v2

N, W, H = 12, 40, 30
SCENES = ["bathroom", "bedroom", "bookstore", "classroom", "dining_room", "home_office", "kitchen",
          "living_room", "office", "basement", "study", "cafe"]  # 9 primary, then 3 mapped to "others"
TRAIN = [4, 1, 3, 6, 8, 11, 12]  # 1-based, non-contiguous, deliberately unsorted
TEST = [2, 5, 7, 9, 10]


def depth_at(n, r, c):
    return 0.5 + 0.1 * n + 0.05 * r + 0.01 * c  # metres, encodes image, row and column


def write_cell(f, name, strings, shape):
    """A MATLAB cell array of strings: references to uint16 character codes under #refs#."""
    refs = f.require_group("#refs#")
    cell = np.empty(len(strings), dtype=h5py.ref_dtype)
    for i, s in enumerate(strings):
        dset = refs.create_dataset(f"{name}_{i}", data=np.array([ord(ch) for ch in s], np.uint16).reshape(-1, 1))
        cell[i] = dset.ref
    f.create_dataset(name, data=cell.reshape(shape), dtype=h5py.ref_dtype)


def make_nyu(root, scenes=SCENES, ref_shape=(1, N), holes=(), train=TRAIN, test=TEST):
    """Write nyu_depth_v2_labeled.mat and splits.mat; holes are (image, row, col, value) set in depth."""
    root.mkdir(parents=True, exist_ok=True)
    r, c = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")  # (H, W) native orientation
    images = np.zeros((N, 3, H, W), np.uint8)
    depths = np.zeros((N, H, W), np.float32)
    for n in range(N):
        images[n, 0], images[n, 1], images[n, 2] = r, c, n
        depths[n] = depth_at(n, r, c)
    for n, row, col, value in holes:
        depths[n, row, col] = value
    with h5py.File(root / "nyu_depth_v2_labeled.mat", "w") as f:
        f.create_dataset("images", data=images.transpose(0, 1, 3, 2))  # column-major: (N, 3, W, H)
        f.create_dataset("depths", data=depths.transpose(0, 2, 1))  # (N, W, H)
        write_cell(f, "sceneTypes", scenes, ref_shape)
        write_cell(f, "scenes", [f"{s}_{i:04d}" for i, s in enumerate(scenes)], ref_shape)
    scipy.io.savemat(root / "splits.mat", {"trainNdxs": np.array(train, np.float64).reshape(-1, 1),
                                           "testNdxs": np.array(test, np.float64).reshape(-1, 1)})
    return images, depths


def test_scene_protocol_maps_27_scenes_to_10_classes():
    assert len(SCENE_TO_CLASS) == 27 and len(CLASSES) == 10 and CLASSES[-1] == "others"
    assert set(SCENE_TO_CLASS.values()) == set(range(10))
    primary = [s for s, k in SCENE_TO_CLASS.items() if k != 9]
    assert sorted(primary) == sorted(CLASSES[:-1]) and all(CLASSES[SCENE_TO_CLASS[s]] == s for s in primary)


@pytest.mark.parametrize("ref_shape", [(1, N), (N, 1)])
@pytest.mark.parametrize("split, indices", [("train", TRAIN), ("test", TEST)])
def test_split_shapes_orientation_and_labels(tmp_path, ref_shape, split, indices):
    make_nyu(tmp_path, ref_shape=ref_shape)
    ds = load_nyu_depth_v2(split, root=tmp_path)
    order = sorted(i - 1 for i in indices)  # samples come in ascending image order
    assert len(ds) == len(indices) and ds.modalities == ("rgb", "depth") and ds.classes == CLASSES
    assert ds.shapes == {"rgb": (3, H, W), "depth": (1, H, W)} and ds.arrays["rgb"].dtype == torch.uint8
    rgb, depth = ds.arrays["rgb"], ds.arrays["depth"]
    assert rgb[:, 2, 0, 0].tolist() == order
    assert torch.equal(rgb[0, 0], torch.arange(H, dtype=torch.uint8)[:, None].expand(H, W))  # row index
    assert torch.equal(rgb[0, 1], torch.arange(W, dtype=torch.uint8)[None, :].expand(H, W))  # column index
    k = order[-1]
    assert depth[-1, 0, H - 1, 3].item() == pytest.approx(depth_at(k, H - 1, 3) / 10.0, rel=1e-5)
    assert ds.labels.tolist() == [SCENE_TO_CLASS[SCENES[i]] for i in order]
    assert ds.holes_filled == 0


def test_every_primary_class_and_others_labelled(tmp_path):
    make_nyu(tmp_path, train=list(range(1, N + 1)))
    labels = load_nyu_depth_v2("train", root=tmp_path).labels.tolist()
    assert labels == list(range(9)) + [9, 9, 9]


def test_depth_holes_filled_and_scaled(tmp_path):
    holes = [(0, 5, 5, np.nan), (0, 5, 6, np.inf), (2, 0, 0, 0.0), (3, 10, 10, -1.0)]
    _, depths = make_nyu(tmp_path, holes=holes)
    ds = load_nyu_depth_v2("train", root=tmp_path, depth_max=4.0)  # train holds images 1, 3, 4 (0, 2, 3)
    depth = ds.arrays["depth"]
    assert ds.holes_filled == 4 and bool(torch.isfinite(depth).all())
    assert 0.0 <= depth.min() and depth.max() <= 1.0
    assert depth[0, 0, 5, 5].item() == pytest.approx(depth_at(0, 5, 5) / 4.0, abs=0.02)  # neighbours' mean
    assert depth[0, 0, 0, 0].item() == pytest.approx(depths[0, 0, 0] / 4.0)
    big = load_nyu_depth_v2("test", root=tmp_path, depth_max=0.6).arrays["depth"]
    assert big.max() == 1.0  # deeper than depth_max clamps to 1


@pytest.mark.parametrize("size, expected", [(16, (16, 16)), ((15, 20), (15, 20))])
def test_resize(tmp_path, size, expected, monkeypatch):
    make_nyu(tmp_path)
    monkeypatch.setattr(nyu, "CHUNK", 3)  # several chunks, including a short last one
    ds = load_nyu_depth_v2("train", root=tmp_path, size=size)
    assert ds.shapes == {"rgb": (3, *expected), "depth": (1, *expected)} and ds.arrays["rgb"].dtype == torch.uint8
    assert ds.arrays["rgb"][:, 2, 0, 0].tolist() == sorted(i - 1 for i in TRAIN)
    assert bool(torch.isfinite(ds.arrays["depth"]).all())


def test_chunked_read_matches_single_read(tmp_path, monkeypatch):
    make_nyu(tmp_path, holes=[(0, 1, 1, np.nan), (10, 2, 2, 0.0)])
    whole = load_nyu_depth_v2("train", root=tmp_path)
    monkeypatch.setattr(nyu, "CHUNK", 2)
    chunked = load_nyu_depth_v2("train", root=tmp_path)
    assert all(torch.equal(whole.arrays[k], chunked.arrays[k]) for k in ("rgb", "depth"))
    assert whole.holes_filled == chunked.holes_filled == 2


def test_root_as_file_and_from_environment(tmp_path, monkeypatch):
    make_nyu(tmp_path / "nyu")
    assert len(load_nyu_depth_v2("test", root=tmp_path / "nyu" / "nyu_depth_v2_labeled.mat")) == len(TEST)
    monkeypatch.setenv("SEMCOM_NYU_ROOT", str(tmp_path / "nyu"))
    assert len(load_nyu_depth_v2("test")) == len(TEST)


def test_missing_folder_and_files(tmp_path):
    with pytest.raises(DatasetError, match=r"does not exist.*nyu_depth_v2_labeled\.mat.*splits\.mat"):
        load_nyu_depth_v2(root=tmp_path / "nowhere")
    make_nyu(tmp_path)
    (tmp_path / "splits.mat").unlink()
    with pytest.raises(DatasetError, match=r"splits\.mat is missing.*horatio"):
        load_nyu_depth_v2(root=tmp_path)


def test_not_hdf5_missing_dataset_and_bad_counts(tmp_path):
    make_nyu(tmp_path)
    labeled = tmp_path / "nyu_depth_v2_labeled.mat"
    labeled.write_bytes(b"MATLAB 5.0 MAT-file, not HDF5" + bytes(200))
    with pytest.raises(DatasetError, match="not an HDF5"):
        load_nyu_depth_v2(root=tmp_path)
    with h5py.File(labeled, "w") as f:
        f.create_dataset("images", data=np.zeros((2, 3, W, H), np.uint8))
        write_cell(f, "sceneTypes", ["office", "office"], (1, 2))
    with pytest.raises(DatasetError, match="lacks dataset.*depths"):
        load_nyu_depth_v2(root=tmp_path)
    with h5py.File(labeled, "a") as f:
        f.create_dataset("depths", data=np.ones((3, W, H), np.float32))
    with pytest.raises(DatasetError, match="inconsistent shapes"):
        load_nyu_depth_v2(root=tmp_path)


def test_unknown_scene_type(tmp_path):
    make_nyu(tmp_path, scenes=SCENES[:-1] + ["spaceship"])
    with pytest.raises(DatasetError, match="unknown scene type.*spaceship"):
        load_nyu_depth_v2(root=tmp_path)


def test_bad_split_and_out_of_range_indices(tmp_path):
    make_nyu(tmp_path, test=[2, 5, 13])
    with pytest.raises(ValueError, match="split"):
        load_nyu_depth_v2("val", root=tmp_path)
    with pytest.raises(DatasetError, match=r"testNdxs.*1\.\.12"):
        load_nyu_depth_v2("test", root=tmp_path)
    assert len(load_nyu_depth_v2("train", root=tmp_path)) == len(TRAIN)
