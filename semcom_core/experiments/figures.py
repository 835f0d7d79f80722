"""Paper-style figures and pivot tables made from result records.

* :func:`plot_versus_ratio` -- accuracy and PSNR against k/n, one row per (channel, SNR) (SemCC Figs. 4-11);
* :func:`plot_versus_snr` -- accuracy and PSNR against SNR, one row per (channel, k/n) (the digital cliff);
* :func:`plot_tradeoff` -- accuracy against PSNR, points labelled by the trade-off weight alpha (Fig. 12);
* :func:`plot_robustness` -- accuracy against test SNR, one panel per downstream classifier (Figs. 13-14);
* :func:`save_reconstruction_grid` -- original and reconstructed images, one row per method (Fig. 15);
* :func:`ratio_table` / :func:`markdown_ratio_table` -- the Figs. 4-11 numbers as text.

A curve (and a table row) is named after the record's ``method``, with its ``variant`` appended when
there is one other than ``"baseline"`` (e.g. ``"semcc (w/o FT)"``). Records that fall on the same
point (e.g. several seeds) are averaged.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import NullLocator  # noqa: E402

from ..metrics import psnr  # noqa: E402

KNOWN_METHODS = ("deepjscc", "deepsc", "semcc", "semre", "bpg+ldpc", "bpg+capacity", "jpeg+ldpc", "jpeg+capacity")
_COLOURS = plt.rcParams["axes.prop_cycle"].by_key()["color"]
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
DPI = 120


# ----------------------------------------------------------------------------------------- helpers

def fraction_label(ratio: float) -> str:
    """``1/24`` for ratio 1/24, ``1/2.5`` for 0.4: ``1/round(1/ratio, 1)`` without a trailing ``.0``."""
    denominator = f"{round(1 / ratio, 1):.1f}"
    return "1/" + (denominator[:-2] if denominator.endswith(".0") else denominator)


def curve_name(record: dict) -> str:
    """The method, plus the variant when it is not the baseline."""
    variant = record.get("variant")
    return record["method"] if variant in (None, "", "baseline") else f"{record['method']} ({variant})"


def _curve_order(records: list[dict]) -> list[str]:
    """Curve names: known methods in paper order first, then the others in order of appearance."""
    names = list(dict.fromkeys(curve_name(r) for r in records))
    rank = {method: i for i, method in enumerate(KNOWN_METHODS)}
    return sorted(names, key=lambda name: (rank.get(name, len(rank)), names.index(name)))


def _styles(names: list[str]) -> dict[str, dict]:
    """A fixed colour and marker per known method; other names get the next ones."""
    styles, extra = {}, len(KNOWN_METHODS)
    for name in names:
        if name in KNOWN_METHODS:
            index = KNOWN_METHODS.index(name)
        else:
            index, extra = extra, extra + 1
        styles[name] = {"color": _COLOURS[index % len(_COLOURS)], "marker": _MARKERS[index % len(_MARKERS)]}
    return styles


def _legend_handles(styles: dict[str, dict]) -> list[Line2D]:
    return [Line2D([], [], label=name, **style) for name, style in styles.items()]


def _mean(values) -> float | None:
    values = [float(v) for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _std(values) -> float:
    """Population standard deviation (0 for fewer than two values): the spread over seeds."""
    values = [float(v) for v in values if v is not None]
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def _averaged(records: list[dict], x_key: str, y_key: str) -> list[tuple[float, float, float]]:
    """(x, mean y, std y) points sorted by x, skipping records whose y is missing; records at one x are
    the seeds of one point."""
    by_x = defaultdict(list)
    for record in records:
        if record.get(y_key) is not None:
            by_x[record[x_key]].append(record[y_key])
    return sorted((x, _mean(ys), _std(ys)) for x, ys in by_x.items())


def _by_curve(records: list[dict]) -> dict[str, list[dict]]:
    curves = defaultdict(list)
    for record in records:
        curves[curve_name(record)].append(record)
    return curves


def _default_title(records: list[dict]) -> str:
    return ", ".join(dict.fromkeys(str(r.get("dataset", "")) for r in records))


def _save(fig, out_path: str | Path) -> Path:
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, dpi=DPI)
    plt.close(fig)
    return out_path


def _require(records: list[dict]) -> None:
    if not records:
        raise ValueError("no records to plot")


def _snr_text(snr_db: float) -> str:
    return f"{snr_db:g}"


# ----------------------------------------------------------------------------------------- figures

def _metric_grid(records: list[dict], row_key, x_key: str, row_title, format_axis, out_path, title) -> Path:
    """Accuracy (%) and PSNR (dB) against ``x_key``: one row of two panels per value of ``row_key``."""
    _require(records)
    groups = defaultdict(list)
    for record in records:
        groups[row_key(record)].append(record)
    styles = _styles(_curve_order(records))
    fig, axes = plt.subplots(len(groups), 2, figsize=(11, 0.6 + 3.4 * len(groups)), squeeze=False)
    for row, group in enumerate(sorted(groups)):
        curves = _by_curve(groups[group])
        for panel, (key, scale, ylabel) in enumerate((("accuracy", 100.0, "accuracy (%)"),
                                                      ("psnr", 1.0, "PSNR (dB)"))):
            ax = axes[row, panel]
            for name in (n for n in styles if n in curves):
                points = _averaged(curves[name], x_key, key)
                if points:
                    errors = [scale * e for _, _, e in points]
                    ax.errorbar([x for x, _, _ in points], [scale * y for _, y, _ in points],
                                yerr=errors if any(errors) else None, capsize=2, **styles[name])
            format_axis(ax)
            ax.set_ylabel(ylabel)
            ax.set_title(row_title(group), fontsize=10)
            ax.grid(alpha=0.3)
    axes[0, 0].legend(handles=_legend_handles(styles), fontsize=8)
    fig.suptitle(title or _default_title(records))
    fig.tight_layout()
    return _save(fig, out_path)


def plot_versus_ratio(records: list[dict], out_path: str | Path, title: str | None = None) -> Path:
    """Accuracy (%) and PSNR (dB) against k/n, one row of two panels per (channel, SNR); returns the PNG."""
    _require(records)
    ratios = sorted({r["ratio"] for r in records})

    def ratio_axis(ax):
        ax.set_xscale("log")
        ax.set_xticks(ratios)
        ax.set_xticklabels([fraction_label(r) for r in ratios])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("k/n")

    return _metric_grid(records, lambda r: (r["channel"], r["snr_db"]), "ratio",
                        lambda g: f"{g[0]}, SNR = {_snr_text(g[1])} dB", ratio_axis, out_path, title)


def plot_versus_snr(records: list[dict], out_path: str | Path, title: str | None = None) -> Path:
    """Accuracy (%) and PSNR (dB) against SNR, one row of two panels per (channel, k/n); returns the PNG."""
    return _metric_grid(records, lambda r: (r["channel"], r["ratio"]), "snr_db",
                        lambda g: f"{g[0]}, k/n = {fraction_label(g[1])}", lambda ax: ax.set_xlabel("SNR (dB)"),
                        out_path, title)


def plot_tradeoff(records: list[dict], out_path: str | Path, title: str | None = None) -> Path:
    """Accuracy (%) against PSNR (dB), one curve per method, each point labelled with its alpha."""
    _require(records)
    styles = _styles(_curve_order(records))
    curves = _by_curve(records)
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for name, style in styles.items():
        points = sorted((r for r in curves[name] if r.get("accuracy") is not None and r.get("psnr") is not None),
                        key=lambda r: r["psnr"])
        if not points:
            continue
        xs, ys = [p["psnr"] for p in points], [100 * p["accuracy"] for p in points]
        ax.plot(xs, ys, "-", label=name, **style)
        for point, x, y in zip(points, xs, ys):
            if point.get("alpha") is not None:
                ax.annotate(f"α={point['alpha']:g}", (x, y), textcoords="offset points", xytext=(4, 4),
                            fontsize=7)
    ax.set_xlabel("PSNR (dB)")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or _default_title(records))
    fig.tight_layout()
    return _save(fig, out_path)


def plot_robustness(records: list[dict], out_path: str | Path, title: str | None = None) -> Path:
    """Accuracy (%) against test SNR, one panel per downstream classifier, one curve per method.

    A dotted vertical line marks the training SNR when all records share one ``train_snr_db``.
    """
    _require(records)
    panels = defaultdict(list)
    for record in records:
        panels[record.get("classifier")].append(record)
    styles = _styles(_curve_order(records))
    train_snrs = {r.get("train_snr_db") for r in records if r.get("train_snr_db") is not None}
    train_snr = train_snrs.pop() if len(train_snrs) == 1 else None
    names = list(panels)  # classifiers in order of first appearance
    fig, axes = plt.subplots(1, len(names), figsize=(0.6 + 4.6 * len(names), 4.2), squeeze=False)
    for ax, classifier in zip(axes[0], names):
        curves = _by_curve(panels[classifier])
        for name in (n for n in styles if n in curves):
            points = _averaged(curves[name], "snr_db", "accuracy")
            if points:
                errors = [100 * e for _, _, e in points]
                ax.errorbar([x for x, _, _ in points], [100 * y for _, y, _ in points],
                            yerr=errors if any(errors) else None, capsize=2, label=name, **styles[name])
        if train_snr is not None:
            ax.axvline(train_snr, color="grey", ls=":", label=f"training SNR ({_snr_text(train_snr)} dB)")
        ax.set_title(classifier or "(no classifier)", fontsize=10)
        ax.set_xlabel("test SNR (dB)")
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(title or _default_title(records))
    fig.tight_layout()
    return _save(fig, out_path)


def _check_images(originals, rows: dict) -> None:
    if originals.dim() != 4 or originals.shape[1] not in (1, 3) or originals.shape[0] == 0:
        raise ValueError(f"originals must be [N, C, H, W] with N > 0 and C in (1, 3), "
                         f"got {tuple(originals.shape)}")
    for label, images in rows.items():
        if tuple(images.shape) != tuple(originals.shape):
            raise ValueError(f"row {label!r}: shape {tuple(images.shape)} differs from the originals' "
                             f"{tuple(originals.shape)}")


def grid_row_labels(originals, rows: dict) -> list[str]:
    """Row labels of the reconstruction grid: ``"original"``, then ``"<label>\\n<mean PSNR> dB"``."""
    _check_images(originals, rows)
    labels = ["original"]
    for label, images in rows.items():
        labels.append(f"{label}\n{psnr(originals, images).mean().item():.2f} dB")
    return labels


def save_reconstruction_grid(originals, rows: dict, out_path: str | Path, title: str | None = None) -> Path:
    """Originals in the first row, then one row per reconstruction, labelled with its mean PSNR."""
    labels = grid_row_labels(originals, rows)
    batches = [originals, *rows.values()]
    count, channels = originals.shape[0], originals.shape[1]
    fig, axes = plt.subplots(len(batches), count, figsize=(1.4 + 1.2 * count, 0.4 + 1.2 * len(batches)),
                             squeeze=False)
    for row, (label, images) in enumerate(zip(labels, batches)):
        images = images.detach().float().cpu().clamp(0, 1)
        for column in range(count):
            ax = axes[row, column]
            if channels == 1:
                ax.imshow(images[column, 0].numpy(), cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(images[column].permute(1, 2, 0).numpy())
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, out_path)


# ------------------------------------------------------------------------------------------ tables

def _pivot(records: list[dict]) -> tuple[list[float], list[tuple], dict]:
    """Ratios, row keys (channel, snr_db, curve name) and {(row key, ratio): records}."""
    if not records:
        raise ValueError("no records to tabulate")
    order = {name: i for i, name in enumerate(_curve_order(records))}
    cells = defaultdict(list)
    for record in records:
        cells[(record["channel"], record["snr_db"], curve_name(record)), record["ratio"]].append(record)
    ratios = sorted({r["ratio"] for r in records})
    keys = sorted({key for key, _ in cells}, key=lambda k: (k[0], k[1], order[k[2]]))
    return ratios, keys, cells


def _cell(records: list[dict], metric: str) -> str:
    """The mean over a point's records (its seeds), ``± std`` when there are several."""
    value = _mean(r.get(metric) for r in records)
    if value is None:
        return "-"
    if math.isinf(value):
        return "inf"
    scale, digits = (100, 2) if metric == "accuracy" else (1, 4 if metric == "ssim" else 2)
    spread = _std(r.get(metric) for r in records)
    several = sum(r.get(metric) is not None for r in records) > 1
    return f"{scale * value:.{digits}f}" + (f" ± {scale * spread:.{digits}f}" if several else "")


def ratio_table(records: list[dict], metric: str) -> str:
    """Plain-text pivot: one line per (channel, SNR, method), one column per k/n; ``-`` where missing.

    Accuracy is shown in %, PSNR (and other metrics) with two decimals, SSIM with four.
    """
    ratios, keys, cells = _pivot(records)
    header = ["channel", "snr_db", "method", *map(fraction_label, ratios)]
    rows = [[key[0], _snr_text(key[1]), key[2], *(_cell(cells.get((key, ratio), []), metric) for ratio in ratios)]
            for key in keys]
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) for i in range(len(header))]
    def line(row: list[str]) -> str:  # text columns left-aligned, numbers right-aligned
        return "  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    title = metric + {"accuracy": " (%)", "psnr": " (dB)"}.get(metric, "")
    return "\n".join([title, line(header), line(["-" * w for w in widths]), *map(line, rows)])


def markdown_ratio_table(records: list[dict]) -> str:
    """GitHub markdown pivot: rows (channel, SNR, method), columns k/n, cells ``"acc% / PSNR dB"``."""
    ratios, keys, cells = _pivot(records)
    lines = ["| channel | SNR (dB) | method | " + " | ".join(map(fraction_label, ratios)) + " |",
             "|---|---:|---|" + "---:|" * len(ratios)]
    for key in keys:
        channel, snr, name = key
        values = []
        for ratio in ratios:
            found = cells.get((key, ratio), [])
            accuracy, quality = _cell(found, "accuracy"), _cell(found, "psnr")
            values.append("-" if (accuracy, quality) == ("-", "-") else f"{accuracy} / {quality}")
        lines.append(f"| {channel} | {_snr_text(snr)} | {name} | " + " | ".join(values) + " |")
    return "\n".join(lines)
