#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""``semcom bench ofdm-gap``: PSNR and accuracy through the full OFDM chain with impairments against the
symbol-level link at the same SNR, semantic and digital."""

from __future__ import annotations

from ..phy.impairments import Impairments
from ..plots import plot_gap
from ..running.links import run_image_link


GAP_IMPAIRMENTS = {"cfo": 0.05, "epsilon": 1.00002, "taps": (1.0, 0.3j)}
#: The digital link of the gap measurement (as flowgraphs/semantic_vs_digital.grc): BPG, 5G NR LDPC
#: n = 576 at rate 3/4, 64-QAM, 131 channel uses per image.
GAP_DIGITAL = {"codec": "bpg", "family": "nr", "rate": "3/4", "qam": 64, "n": 576, "channel_uses": 131}


def measure_gap(bundle, snrs=(8.0, 10.0, 12.0, 15.0, 20.0, 25.0), num_images=200, impairments=None, digital=None,
                out_dir=None, progress=True) -> list[dict]:
    """PSNR and accuracy versus SNR through the full OFDM chain with impairments against the
    symbol-level link (semcom's AWGN channel block) at the same SNR, for the semantic transceiver of
    ``bundle`` and the digital link ``digital``. With ``out_dir``, writes ``ofdm_gap.jsonl``,
    ``ofdm_gap.md`` and ``ofdm_gap.png``. Returns one record per (scheme, phy, snr)."""
    from semcom_core.records import write_results

    impairments = dict(GAP_IMPAIRMENTS if impairments is None else impairments)
    digital = dict(GAP_DIGITAL if digital is None else digital)
    records = []
    for scheme in ("semantic", "digital"):
        for snr in snrs:
            for phy in ("symbols", "ofdm"):
                imp = Impairments(snr_db=float(snr), seed=int(snr * 10) + 1, **(impairments if phy == "ofdm" else {}))
                r = run_image_link(bundle, num_images, imp, idle_s=10.0, scheme=scheme, digital=digital, phy=phy,
                                   channel_label=f"{phy}-awgn" if phy == "symbols" else "ofdm-impaired")
                rec = {"scheme": scheme, "phy": phy, "snr_db": float(snr), "psnr": r.get("psnr"),
                       "ssim": r.get("ssim"), "accuracy": r.get("accuracy"), "images": int(num_images),
                       "delivered": r["count"] / max(1, int(num_images)), "frames_lost": r["frames_lost"],
                       "snr_est_db": r["snr_est_db"], "impairments": impairments if phy == "ofdm" else {},
                       "digital": digital if scheme == "digital" else None}
                records.append(rec)
                if progress:
                    print(f"ofdm gap: {scheme:8s} {phy:7s} {snr:5.1f} dB  PSNR {rec['psnr'] or float('nan'):6.2f}  "
                          f"acc {rec['accuracy'] or float('nan'):.3f}  delivered {rec['delivered']:.3f}  "
                          f"est {rec['snr_est_db']:.1f} dB", flush=True)
    if out_dir is not None:
        out = write_results(out_dir, "ofdm_gap", records, format_gap(records))
        plot_gap(records, out / "ofdm_gap.png")
    return records


def format_gap(records) -> str:
    """Markdown table: per scheme and SNR, symbol level against OFDM."""
    by = {(r["scheme"], r["phy"], r["snr_db"]): r for r in records}
    lines = ["| scheme | SNR dB | PSNR symbols | PSNR OFDM | gap dB | acc symbols | acc OFDM | OFDM delivered | "
             "OFDM est. SNR |", "|---|---|---|---|---|---|---|---|---|"]
    fmt = lambda v, spec: "n/a" if v is None or v != v else format(v, spec)  # noqa: E731
    for scheme, phy, snr in sorted(k for k in by if k[1] == "symbols"):
        a, b = by[(scheme, "symbols", snr)], by.get((scheme, "ofdm", snr), {})
        gap = (a["psnr"] - b["psnr"]) if a.get("psnr") is not None and b.get("psnr") is not None else None
        lines.append(f"| {scheme} | {snr:g} | {fmt(a['psnr'], '.2f')} | {fmt(b.get('psnr'), '.2f')} | "
                     f"{fmt(gap, '.2f')} | {fmt(a['accuracy'], '.3f')} | {fmt(b.get('accuracy'), '.3f')} | "
                     f"{fmt(b.get('delivered'), '.3f')} | {fmt(b.get('snr_est_db'), '.1f')} |")
    return "\n".join(lines)
