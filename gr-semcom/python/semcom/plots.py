#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Figures of the GNU Radio benchmarks."""

from __future__ import annotations

import numpy as np


def plot_gap(records, path) -> None:
    """PSNR and accuracy versus SNR, symbol level (dashed) against OFDM with impairments (solid)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    colours = {"semantic": "tab:blue", "digital": "tab:red"}
    for scheme in ("semantic", "digital"):
        for phy, style in (("symbols", "--o"), ("ofdm", "-s")):
            rs = sorted((r for r in records if r["scheme"] == scheme and r["phy"] == phy), key=lambda r: r["snr_db"])
            if not rs:
                continue
            x = [r["snr_db"] for r in rs]
            label = f"{scheme}, {'symbol level (AWGN)' if phy == 'symbols' else 'OFDM + impairments'}"
            for ax, key in zip(axes, ("psnr", "accuracy", "delivered")):
                y = [np.nan if r.get(key) is None else r[key] for r in rs]
                ax.plot(x, y, style, color=colours[scheme], label=label, alpha=0.9)
    for ax, name in zip(axes, ("PSNR (dB)", "accuracy", "images delivered")):
        ax.set_xlabel("SNR per subcarrier / symbol (dB)")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Measured gap to the ideal: full OFDM chain (CFO 5 %, 20 ppm clock offset, two paths) "
                 "vs symbol-level simulation")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
