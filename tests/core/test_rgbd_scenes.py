"""The generated RGB-D scenes: determinism, format, balance, and class evidence split between the modalities."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from semcom_core.data.rgbd_scenes import (CLASS_APPEARANCE, CLASS_GEOMETRY, CLASS_KIND, CLASSES, load_rgbd_scenes,
                                          make_rgbd_scenes)

RGB_PAIRS = [(0, 1), (4, 5)]  # same geometry, told apart only by RGB
DEPTH_PAIRS = [(2, 3), (6, 7)]  # same appearance, told apart only by depth


def rgb_features(rgb: torch.Tensor) -> torch.Tensor:
    """Normalised 2D FFT magnitude of the grey image: the texture, independent of hue, brightness and phase."""
    grey = rgb.float().mean(1)
    mag = torch.fft.rfft2(grey - grey.mean((1, 2), keepdim=True)).abs().flatten(1)
    return mag / mag.norm(dim=1, keepdim=True).clamp_min(1e-6)


def depth_features(depth: torch.Tensor) -> torch.Tensor:
    """Row/column means and spreads, mean gradients, and histograms of depth and of depth minus its median."""
    d = depth[:, 0].float()
    rel = d - d.flatten(1).median(1).values[:, None, None]

    def hist(v, edges):
        return torch.stack([((v >= lo) & (v < hi)).float().mean((1, 2)) for lo, hi in zip(edges[:-1], edges[1:])], 1)

    grad_x, grad_y = (d[:, :, 1:] - d[:, :, :-1]).abs(), (d[:, 1:] - d[:, :-1]).abs()
    return torch.cat([d.mean(2), d.mean(1), d.std(2), d.std(1), grad_x.mean(1), grad_y.mean(2),
                      hist(d, np.linspace(0, 1, 21)), hist(rel, np.linspace(-0.4, 0.1, 21))], 1)


FEATURES = {"rgb": rgb_features, "depth": depth_features}


def ridge_predict(x_train, y_train, x_test, lam=0.01):
    """Ridge regression onto one-hot labels (closed form), then argmax: cheap and deterministic."""
    mu, sd = x_train.mean(0), x_train.std(0).clamp_min(1e-6)
    x_train, x_test = [torch.cat([(x - mu) / sd, torch.ones(len(x), 1)], 1).double() for x in (x_train, x_test)]
    target = torch.nn.functional.one_hot(y_train, len(CLASSES)).double()
    gram = x_train.T @ x_train + lam * len(x_train) * torch.eye(x_train.shape[1], dtype=torch.float64)
    return (x_test @ torch.linalg.solve(gram, x_train.T @ target)).argmax(1)


@pytest.fixture(scope="module")
def splits():
    return (load_rgbd_scenes("train", train_size=1500, test_size=500),
            load_rgbd_scenes("test", train_size=1500, test_size=500))


@pytest.fixture(scope="module")
def probes(splits):
    """Accuracy and confusion matrix of the ridge probe on RGB alone, depth alone and both."""
    train, test = splits
    feats = {m: (f(train.arrays[m]), f(test.arrays[m])) for m, f in FEATURES.items()}
    out = {}
    for name, mods in (("rgb", ["rgb"]), ("depth", ["depth"]), ("both", ["rgb", "depth"])):
        pred = ridge_predict(torch.cat([feats[m][0] for m in mods], 1), train.labels,
                             torch.cat([feats[m][1] for m in mods], 1))
        confusion = torch.zeros(len(CLASSES), len(CLASSES), dtype=torch.long)
        confusion.index_put_((test.labels, pred), torch.ones_like(pred), accumulate=True)
        out[name] = (float((pred == test.labels).float().mean()), confusion)
    return out


def test_same_seed_same_data_and_splits_differ():
    a, b = make_rgbd_scenes(60, seed=5), make_rgbd_scenes(60, seed=5)
    for key in ("rgb", "depth"):
        assert torch.equal(a.arrays[key], b.arrays[key])
    assert torch.equal(a.labels, b.labels)
    assert not torch.equal(a.arrays["depth"], make_rgbd_scenes(60, seed=6).arrays["depth"])
    train = load_rgbd_scenes("train", train_size=200, test_size=200)
    test = load_rgbd_scenes("test", train_size=200, test_size=200)
    assert torch.equal(train.arrays["rgb"], load_rgbd_scenes("train", train_size=200).arrays["rgb"])
    images = [set(map(bytes, ds.arrays["rgb"].flatten(1).numpy())) for ds in (train, test)]
    assert not images[0] & images[1]


@pytest.mark.parametrize("size", [16, 32, 64])
def test_format_and_ranges(size):
    ds = make_rgbd_scenes(40, size=size, seed=1)
    assert ds.name == "rgbd-scenes" and ds.classes == CLASSES and ds.modalities == ("rgb", "depth")
    assert ds.arrays["rgb"].dtype == torch.uint8 and ds.arrays["rgb"].shape == (40, 3, size, size)
    depth = ds.arrays["depth"]
    assert depth.dtype == torch.float32 and depth.shape == (40, 1, size, size)
    assert torch.isfinite(depth).all() and depth.min() >= 0 and depth.max() <= 1
    assert 0.2 < float(depth.mean()) < 0.8  # metres / depth_max: indoor distances, not saturated
    assert 0.01 < ds.holes_filled / depth.numel() < 0.1  # a few percent of the pixels were holes
    (rgb, d), label = ds[0]
    assert rgb.shape == (3, size, size) and d.shape == (1, size, size)
    assert 0 <= float(rgb.min()) and float(rgb.max()) <= 1
    assert 0 <= label < len(CLASSES)


def test_no_holes_when_hole_fraction_is_zero():
    assert make_rgbd_scenes(20, hole_fraction=0.0).holes_filled == 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="size"):
        make_rgbd_scenes(10, size=8)
    with pytest.raises(ValueError, match="n >= 1"):
        make_rgbd_scenes(0)
    with pytest.raises(ValueError, match="split"):
        load_rgbd_scenes("validation")


def test_classes_are_balanced_and_tables_consistent():
    assert torch.bincount(make_rgbd_scenes(1000).labels, minlength=10).tolist() == [100] * 10
    counts = torch.bincount(make_rgbd_scenes(1003, seed=2).labels, minlength=10)
    assert int(counts.max() - counts.min()) <= 1
    assert len(CLASSES) == len(CLASS_GEOMETRY) == len(CLASS_APPEARANCE) == len(CLASS_KIND) == 10
    for c, name in enumerate(CLASSES):  # the kind follows from which factor the class shares with another
        same_geometry = sum(g == CLASS_GEOMETRY[c] for g in CLASS_GEOMETRY) > 1
        same_appearance = sum(a == CLASS_APPEARANCE[c] for a in CLASS_APPEARANCE) > 1
        expected = "rgb-unique" if same_geometry else "depth-unique" if same_appearance else "shared"
        assert CLASS_KIND[name] == expected


def test_generation_is_fast():
    start = time.perf_counter()
    make_rgbd_scenes(3000, size=32)
    assert time.perf_counter() - start < 10


def test_each_modality_alone_falls_short_of_both(probes):
    acc = {name: a for name, (a, _) in probes.items()}
    assert acc["both"] >= 0.95, acc
    for name in ("rgb", "depth"):
        assert 0.6 <= acc[name] <= 0.88, acc  # about 80 %: one pair in five is a coin flip
        assert acc["both"] - acc[name] >= 0.10, acc


@pytest.mark.parametrize("modality, blind_pairs", [("rgb", DEPTH_PAIRS), ("depth", RGB_PAIRS)])
def test_single_modality_errs_on_the_pairs_it_cannot_see(probes, modality, blind_pairs):
    _, confusion = probes[modality]
    errors = int(confusion.sum() - confusion.trace())
    in_pairs = sum(int(confusion[i, j] + confusion[j, i]) for i, j in blind_pairs)
    assert in_pairs >= 0.7 * errors, (in_pairs, errors)
    for i, j in blind_pairs:  # within a blind pair the probe is near chance
        pair = confusion[[i, j]][:, [i, j]]
        assert float(pair.trace()) / float(pair.sum()) < 0.7


def test_geometry_invisible_in_rgb_and_texture_invisible_in_depth(splits):
    train, _ = splits

    def t_stats(features, i, j):
        """Welch t statistic of every feature between classes i and j."""
        a, b = features[train.labels == i], features[train.labels == j]
        se = (a.var(0) / len(a) + b.var(0) / len(b)).sqrt().clamp_min(1e-9)
        return ((a.mean(0) - b.mean(0)) / se).abs()

    for features, blind, seen in ((rgb_features(train.arrays["rgb"]), DEPTH_PAIRS, RGB_PAIRS),
                                  (depth_features(train.arrays["depth"]), RGB_PAIRS, DEPTH_PAIRS)):
        for pair in blind:  # no feature tells the pair apart beyond sampling noise
            t = t_stats(features, *pair)
            assert float(t.mean()) < 1.5 and float(t.max()) < 4.5, (pair, float(t.mean()), float(t.max()))
        for pair in seen:  # while the other modality's pairs stand out clearly
            assert float(t_stats(features, *pair).mean()) > 3
