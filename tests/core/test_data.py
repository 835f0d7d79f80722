"""Dataset readers on small files written in the real on-disk formats, and their errors."""

from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest

from semcom_core.data import DatasetError, load_dataset
from semcom_core.data.fashion_mnist import DEFAULT_ROOT


def write_idx(path, array: np.ndarray, compress: bool = True) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def make_fmnist(root, n_train=12, n_test=5, compress=True):
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, n, prefix in (("train", n_train, "train"), ("test", n_test, "t10k")):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(root / f"{prefix}-images-idx3-ubyte", images, compress)
        write_idx(root / f"{prefix}-labels-idx1-ubyte", labels, compress)
        arrays[split] = (images, labels)
    return arrays


@pytest.mark.parametrize("compress", [True, False])
def test_fashion_mnist_reader_roundtrip(tmp_path, compress):
    arrays = make_fmnist(tmp_path, compress=compress)
    for split in ("train", "test"):
        ds = load_dataset("fashion-mnist", split, root=tmp_path)
        images, labels = arrays[split]
        assert len(ds) == len(images)
        assert ds.image_shape == (1, 28, 28)
        x, y = ds[3]
        assert x.shape == (1, 28, 28) and float(x.max()) <= 1.0
        np.testing.assert_allclose(x[0].numpy(), images[3] / 255.0, rtol=0, atol=1e-6)
        assert y == labels[3]


def test_fashion_mnist_errors_name_the_path(tmp_path):
    with pytest.raises(DatasetError, match=str(tmp_path / "nothing")) as err:
        load_dataset("fashion-mnist", root=tmp_path / "nothing")
    assert "dataset-fashion-mnist" in str(err.value)
    make_fmnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="t10k-labels"):
        load_dataset("fashion-mnist", "test", root=tmp_path)


def test_fashion_mnist_corrupt_files(tmp_path):
    make_fmnist(tmp_path)
    # truncated payload: header promises more bytes than the file holds
    path = tmp_path / "train-images-idx3-ubyte.gz"
    data = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(data[:-100]))
    with pytest.raises(DatasetError, match="header says"):
        load_dataset("fashion-mnist", "train", root=tmp_path)
    path.write_bytes(b"not gzip at all")
    with pytest.raises(DatasetError, match="train-images"):
        load_dataset("fashion-mnist", "train", root=tmp_path)
    path.unlink()
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 28, 28), np.uint8))  # 3 images, 12 labels
    with pytest.raises(DatasetError, match="do not match"):
        load_dataset("fashion-mnist", "train", root=tmp_path)


def make_cifar(root, n_per_batch=4):
    rng = np.random.default_rng(1)
    root.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"batch_label": name.encode(), b"labels": rng.integers(0, 10, n_per_batch).tolist(),
                 b"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
                 b"filenames": [f"{i}.png".encode() for i in range(n_per_batch)]}
        with open(root / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)


def test_cifar10_reader(tmp_path):
    make_cifar(tmp_path)
    train = load_dataset("cifar10", "train", root=tmp_path)
    test = load_dataset("cifar10", "test", root=tmp_path)
    assert len(train) == 20 and len(test) == 4
    assert train.image_shape == (3, 32, 32)
    with open(tmp_path / "test_batch", "rb") as f:
        raw = pickle.load(f, encoding="bytes")
    x, y = test[2]
    # channel-major rows: the first 1024 values are the red plane
    np.testing.assert_allclose(x[0].numpy().ravel(), raw[b"data"][2, :1024] / 255.0, atol=1e-6)
    np.testing.assert_allclose(x[2].numpy().ravel(), raw[b"data"][2, 2048:] / 255.0, atol=1e-6)
    assert y == raw[b"labels"][2]


def test_cifar10_errors(tmp_path):
    with pytest.raises(DatasetError, match="cifar-10-batches-py"):
        load_dataset("cifar10", "train")  # not embedded: must be pointed at
    with pytest.raises(DatasetError, match=str(tmp_path / "absent")):
        load_dataset("cifar10", "train", root=tmp_path / "absent")
    make_cifar(tmp_path)
    (tmp_path / "data_batch_3").write_bytes(b"\x80\x04garbage")
    with pytest.raises(DatasetError, match="data_batch_3"):
        load_dataset("cifar10", "train", root=tmp_path)


def test_cifar10_refuses_code_in_pickles(tmp_path):
    make_cifar(tmp_path)

    class Evil:
        def __reduce__(self):
            return (print, ("this must never run",))

    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump({b"data": Evil(), b"labels": [0]}, f)
    with pytest.raises(DatasetError, match="refusing"):
        load_dataset("cifar10", "test", root=tmp_path)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="fashion-mnist"):
        load_dataset("imagenet")


@pytest.mark.skipif(not DEFAULT_ROOT.is_dir(), reason="dataset-fashion-mnist not installed")
def test_embedded_fashion_mnist():
    test = load_dataset("fashion-mnist", "test")
    assert len(test) == 10000 and test.image_shape == (1, 28, 28)
    counts = np.bincount(test.labels.numpy(), minlength=10)
    assert (counts == 1000).all()
