"""Paper-style figures and ratio tables made from result records (semcom_core.experiments.figures)."""

from __future__ import annotations

from collections import OrderedDict

import matplotlib.image as mpimg
import pytest
import torch

from semcom_core.experiments.figures import (
    DPI,
    fraction_label,
    grid_row_labels,
    markdown_ratio_table,
    plot_robustness,
    plot_tradeoff,
    plot_versus_ratio,
    ratio_table,
    save_reconstruction_grid,
)
from semcom_core.records import make_record
from semcom_core.metrics import PSNR_MAX_DB

METHODS = ("deepjscc", "deepsc", "semcc", "semre")
RATIOS = (1 / 24, 1 / 12, 1 / 6)
SNRS = (0.0, 10.0)
CHANNELS = ("awgn", "rayleigh")


def sweep_records() -> list[dict]:
    """4 methods x 3 ratios x 2 SNRs x 2 channels with distinct numbers; one pinned cell."""
    records = []
    for m, method in enumerate(METHODS):
        for r, ratio in enumerate(RATIOS):
            for s, snr in enumerate(SNRS):
                for c, channel in enumerate(CHANNELS):
                    accuracy = 0.5 + 0.1 * m + 0.05 * r + 0.02 * s - 0.03 * c
                    quality = 15.0 + m + 2 * r + 3 * s - c
                    if (method, ratio, snr, channel) == ("semcc", 1 / 12, 10.0, "awgn"):
                        accuracy, quality = 0.88123, 17.3
                    records.append(make_record(method, "cifar10", channel, snr, ratio,
                                               {"psnr": quality, "ssim": 0.5, "accuracy": accuracy},
                                               samples=100, seed=0))
    return records


def png_shape(path):
    assert path.is_file() and path.stat().st_size > 0
    return mpimg.imread(path).shape


def test_fraction_label():
    assert [fraction_label(r) for r in (1 / 24, 1 / 12, 1 / 6, 0.4, 1 / 3)] == ["1/24", "1/12", "1/6", "1/2.5", "1/3"]


def test_plot_versus_ratio_grows_with_groups(tmp_path):
    records = sweep_records()
    full = plot_versus_ratio(records, tmp_path / "sub" / "all.png", title="all")
    one_group = [r for r in records if r["channel"] == "awgn" and r["snr_db"] == 10.0]
    single = plot_versus_ratio(one_group, tmp_path / "one.png")
    (full_h, full_w, _), (one_h, one_w, _) = png_shape(full), png_shape(single)
    assert full_w == one_w == 11 * DPI
    assert one_h == round(4.0 * DPI)
    assert full_h == round(14.2 * DPI) and full_h > 3 * one_h  # 4 rows of panels vs 1


def test_plot_versus_ratio_skips_missing_accuracy_and_unknown_method(tmp_path):
    records = sweep_records()[:6]
    records[0] = dict(records[0], accuracy=None)
    records.append(make_record("mymethod", "cifar10", "awgn", 0.0, 1 / 6, {"psnr": 20.0, "accuracy": None},
                               samples=10, seed=0))
    assert png_shape(plot_versus_ratio(records, tmp_path / "partial.png"))[0] > 0


def test_plot_tradeoff(tmp_path):
    records = [make_record(method, "cifar10", "awgn", 10.0, 1 / 12,
                           {"psnr": 20 + 5 * alpha + m, "accuracy": 0.9 - 0.3 * alpha}, samples=10, seed=0,
                           alpha=alpha)
               for m, method in enumerate(("semcc", "semre")) for alpha in (0.1, 0.5, 0.9)]
    height, width, _ = png_shape(plot_tradeoff(records, tmp_path / "tradeoff.png"))
    assert (height, width) == (round(4.8 * DPI), round(6.4 * DPI))


def test_plot_robustness_one_panel_per_classifier(tmp_path):
    records = [make_record(method, "cifar10", "awgn", snr, 1 / 12, {"psnr": 20.0, "accuracy": 0.5 + snr / 100},
                           samples=10, seed=0, train_snr_db=10.0, classifier=classifier)
               for method in METHODS for snr in (0.0, 5.0, 10.0, 15.0)
               for classifier in ("resnet20", "repvgg", "shufflenet_v2")]
    three = png_shape(plot_robustness(records, tmp_path / "robust3.png"))
    one = png_shape(plot_robustness([r for r in records if r["classifier"] == "repvgg"], tmp_path / "robust1.png"))
    assert three[0] == one[0]
    assert three[1] == round((0.6 + 3 * 4.6) * DPI) and one[1] == round((0.6 + 4.6) * DPI)


def test_ratio_table_accuracy_and_psnr():
    records = sweep_records()
    text = ratio_table(records, "accuracy")
    for needle in (*METHODS, "1/24", "1/12", "1/6", "awgn", "rayleigh"):
        assert needle in text
    lines = text.splitlines()
    assert len(lines) == 3 + len(METHODS) * len(SNRS) * len(CHANNELS)
    pinned = next(line for line in lines if line.split()[:3] == ["awgn", "10", "semcc"])
    assert pinned.split()[3:] == ["72.00", "88.12", "82.00"]  # 0.5 + 0.1*m + 0.05*r + 0.02*s, m=2, s=1, r=0 and 2
    pinned = next(line for line in ratio_table(records, "psnr").splitlines()
                  if line.split()[:3] == ["awgn", "10", "semcc"])
    assert pinned.split()[4] == "17.30"


def test_ratio_table_missing_cell_and_averaging():
    records = [r for r in sweep_records() if not (r["method"] == "deepsc" and r["ratio"] == 1 / 24)]
    deepsc_lines = [line for line in ratio_table(records, "psnr").splitlines() if " deepsc " in line]
    assert len(deepsc_lines) == 4 and all(line.split()[3] == "-" for line in deepsc_lines)
    twice = [make_record("semcc", "x", "awgn", 0.0, 1 / 6, {"psnr": p, "accuracy": None}, samples=1, seed=s)
             for s, p in enumerate((10.0, 20.0))]
    lines = ratio_table(twice, "accuracy").splitlines() + ratio_table(twice, "psnr").splitlines()
    assert lines[3].split()[-1] == "-" and lines[-1].endswith("15.00 ± 5.00")   # two seeds: mean ± std


def test_markdown_ratio_table():
    records = sweep_records()
    records = [r for r in records if not (r["method"] == "semre" and r["ratio"] == 1 / 6 and r["channel"] == "awgn")]
    lines = markdown_ratio_table(records).splitlines()
    assert len(lines) == 2 + len(METHODS) * len(SNRS) * len(CHANNELS)
    assert lines[0] == "| channel | SNR (dB) | method | 1/24 | 1/12 | 1/6 |"
    assert set(lines[1]) <= set("|-:") and lines[1].count("|") == lines[0].count("|")
    assert "| awgn | 10 | semcc | 72.00 / 20.00 | 88.12 / 17.30 | 82.00 / 24.00 |" in lines
    semre_awgn = [line for line in lines if line.startswith("| awgn |") and "| semre |" in line]
    assert len(semre_awgn) == 2 and all(line.endswith("| - |") for line in semre_awgn)


def test_variant_is_its_own_row():
    records = sweep_records()[:1]
    records.append(dict(records[0], variant="w/o FT", accuracy=0.1))
    records.append(dict(records[0], variant="baseline"))
    lines = ratio_table(records, "accuracy").splitlines()
    assert len(lines) == 5 and "deepjscc (w/o FT)" in lines[-1] and lines[-1].split()[-1] == "10.00"


def test_empty_records_raise(tmp_path):
    for plot in (plot_versus_ratio, plot_tradeoff, plot_robustness):
        with pytest.raises(ValueError, match="no records"):
            plot([], tmp_path / "empty.png")
    with pytest.raises(ValueError):
        ratio_table([], "psnr")
    with pytest.raises(ValueError):
        markdown_ratio_table([])
    assert not (tmp_path / "empty.png").exists()


@pytest.mark.parametrize("channels", [1, 3])
def test_reconstruction_grid(tmp_path, channels):
    gen = torch.Generator().manual_seed(0)
    originals = torch.rand(4, channels, 16, 16, generator=gen)
    noisy = (originals + 0.1 * torch.randn(originals.shape, generator=gen)).clamp(0, 1)
    rows = OrderedDict([("identical", originals.clone()), ("noisy", noisy)])
    labels = grid_row_labels(originals, rows)
    assert labels[0] == "original"
    assert labels[1] == f"identical\n{PSNR_MAX_DB:.2f} dB"
    noisy_db = float(labels[2].split("\n")[1].removesuffix(" dB"))
    assert labels[2].startswith("noisy\n") and 15 < noisy_db < 30
    height, width, _ = png_shape(save_reconstruction_grid(originals, rows, tmp_path / "g" / "grid.png", title="t"))
    assert height == round((0.4 + 1.2 * 3) * DPI) and width == round((1.4 + 1.2 * 4) * DPI)


def test_reconstruction_grid_rejects_bad_shapes(tmp_path):
    originals = torch.rand(2, 1, 8, 8)
    with pytest.raises(ValueError):
        save_reconstruction_grid(originals, {"bad": torch.rand(2, 1, 8, 9)}, tmp_path / "bad.png")
    with pytest.raises(ValueError):
        save_reconstruction_grid(originals, {"bad": torch.rand(3, 1, 8, 8)}, tmp_path / "bad.png")
    with pytest.raises(ValueError):
        grid_row_labels(torch.rand(2, 2, 8, 8), {})
    assert not (tmp_path / "bad.png").exists()
