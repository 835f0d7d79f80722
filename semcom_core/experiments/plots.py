"""Plots made from result records: PSNR and accuracy against SNR, one curve per configuration."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _label(record: dict) -> str:
    label = f"{record['method']} {record['channel']} k/n={record['ratio']:.3f}"
    return label + (f" ({record['source']})" if record.get("source") not in (None, "eval") else "")


def plot_records(records: list[dict], out_path: str | Path, title: str | None = None) -> Path:
    """Two panels, PSNR and accuracy versus SNR; returns the written PNG path."""
    if not records:
        raise ValueError("no records to plot")
    curves = defaultdict(list)
    for record in records:
        curves[_label(record)].append(record)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, points in sorted(curves.items()):
        points.sort(key=lambda r: r["snr_db"])
        snr = [p["snr_db"] for p in points]
        style = "--s" if "flowgraph" in label else "-o"
        axes[0].plot(snr, [p.get("psnr") for p in points], style, label=label)
        axes[1].plot(snr, [100 * p["accuracy"] if p.get("accuracy") is not None else None for p in points],
                     style, label=label)
    clean = [r["clean_accuracy"] for r in records if r.get("clean_accuracy") is not None]
    if clean:
        axes[1].axhline(100 * clean[0], color="grey", ls=":", label="classifier on clean images")
    for ax, ylabel in zip(axes, ("PSNR (dB)", "accuracy (%)")):
        ax.set_xlabel("SNR (dB)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.suptitle(title or f"{records[0]['dataset']}")
    fig.tight_layout()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, dpi=120)
    plt.close(fig)
    return out_path
