"""The MIJSCC experiment's figures (Figs. 5, 6, 8-13 of the paper): metrics against SNR per variant, the lam
trade-off and the constellation before and after quantisation."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from ..methods.latent_classifier import encode_all  # noqa: E402
from ..runs.image import load_method  # noqa: E402
from ..symbols import SymbolCodec, complex_to_real  # noqa: E402
from .figures import DPI  # noqa: E402

__all__ = ["curve_name", "own_setting", "plot_constellation", "plot_lambda_tradeoff", "plot_metrics"]

_LABELS = {"psnr": "PSNR (dB)", "ssim": "SSIM", "accuracy": "accuracy (MLP, all labels)",
           "accuracy_10": "accuracy (MLP, 10 % labels)", "accuracy_knn": "accuracy (kNN)",
           "accuracy_recon": "accuracy (classifier on reconstruction)", "gamma": "gamma (active fraction)"}


def own_setting(r: dict) -> bool:
    """True for a record measured on the channel and quantiser its run was trained with."""
    return r.get("train_channel", r["channel"]) == r["channel"] and not r.get("tested_with")


def curve_name(r: dict) -> str:
    """The legend name of a record's curve: the variant (and the channel it was trained on, when another, or
    what changed at test)."""
    if r["method"] in ("mijscc", "a-mijscc"):
        name = r["variant"]
        if r.get("tested_with"):
            return f"{name} ({r['tested_with']})"
        return name if r.get("train_channel", r["channel"]) == r["channel"] else f"{name} (trained on {r['train_channel']})"
    return r["method"]


def plot_metrics(records: list[dict], metrics, out_path: Path, title: str, x_key: str = "snr_db") -> Path:
    """One panel per metric against SNR (or `x_key`), one curve per variant."""
    curves: dict[str, list[dict]] = {}
    for r in sorted(records, key=lambda r: r[x_key]):
        curves.setdefault(curve_name(r), []).append(r)
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for i, (name, rs) in enumerate(curves.items()):
            pts = [(r[x_key], r[metric], r.get(f"{metric}_std") or 0.0) for r in rs if r.get(metric) is not None]
            if pts:
                x, y, err = zip(*pts)
                ax.errorbar(x, y, yerr=err if any(err) else None, marker="os^Dv<>P*X"[i % 10], capsize=2, label=name)
        ax.set_xlabel("SNR (dB)" if x_key == "snr_db" else x_key)
        ax.set_ylabel(_LABELS.get(metric, metric))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_path, dpi=DPI)
    plt.close(fig)
    return out_path


def plot_lambda_tradeoff(records: list[dict], snr: float, out_path: Path) -> Path:
    """Fig. 5: PSNR and accuracy against lam at one SNR."""
    own = [r for r in records if own_setting(r)]
    rs = sorted((r for r in own if r["method"] == "mijscc" and r["snr_db"] == snr and r["variant"] in
                 _LAMBDA_VARIANTS(own)), key=lambda r: r["lam"])
    fig, ax = plt.subplots(figsize=(5, 3.6))
    x = [max(r["lam"], 1e-4) for r in rs]
    ax.semilogx(x, [r["psnr"] for r in rs], "o-", color="C0")
    ax.set_xlabel("lam (0 plotted at 1e-4)")
    ax.set_ylabel("PSNR (dB)", color="C0")
    twin = ax.twinx()
    twin.semilogx(x, [r["accuracy"] for r in rs], "s-", color="C1", label="MLP, all labels")
    twin.semilogx(x, [r["accuracy_knn"] for r in rs], "^--", color="C2", label="kNN")
    twin.set_ylabel("accuracy")
    twin.legend(fontsize=7)
    ax.set_title(f"lam trade-off at {snr:g} dB")
    fig.tight_layout()
    fig.savefig(out_path, dpi=DPI)
    plt.close(fig)
    return out_path


def _LAMBDA_VARIANTS(records):  # noqa: N802 - the variants that differ from 'mijscc' only in lam
    main = next(r for r in records if r["variant"] == "mijscc")
    return {r["variant"] for r in records if r["method"] == "mijscc" and r["q"] == main["q"]
            and r["mu1"] == main["mu1"] and r["mu2"] == main["mu2"] and r["channel"] == main["channel"]}


@torch.no_grad()
def plot_constellation(run_dir: Path, images: torch.Tensor, out_path: Path) -> Path:
    """Fig. 10: the symbols of some test images before (analog, unit power) and after 4-bit quantisation."""
    method, cfg = load_method(run_dir)
    z = encode_all(method.transceiver.encoder, images)
    before = SymbolCodec().to_symbols(z)[0].flatten()
    after, _side = SymbolCodec(cfg["quant_bits"]).to_symbols(z)
    after = after.flatten()
    fig, axes = plt.subplots(1, 2, figsize=(8, 4))
    for ax, s, title in ((axes[0], before, "before quantisation (analog)"),
                         (axes[1], after, f"after {cfg['quant_bits']}-bit quantisation")):
        ax.scatter(s.real, s.imag, s=2, alpha=0.3)
        levels = len(torch.unique(torch.round(complex_to_real(s[None]) * 1e4)))
        ax.set_title(f"{title}:\n{levels} distinct values per real dimension", fontsize=9)
        ax.set_aspect("equal")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_path, dpi=DPI)
    plt.close(fig)
    return out_path
