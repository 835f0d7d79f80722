"""Delivery over the air: a bundle's images in bursts through a sample-level channel and the streaming burst
receiver, against the same bundle through the symbol-level channel at the same SNR.

For each (channel, SNR, carrier offset, burst size): the test images are encoded (``Bundle.transmit``, the
A-MIJSCC mask told the SNR), packed into bursts (``semcom_core.link.air``) separated by random gaps, sent
through the channel (AWGN, or Sionna TDL-A at the sample level, a new static channel per burst, then noise) with
the carrier offset, received by :class:`BurstReceiver` and decoded (``Bundle.receive``). PSNR is over ALL
sent images: a lost image counts as the receiver's fallback, the mean of the evaluated test images.
``psnr_symbol_level`` is ``evaluate_bundle`` on the symbol-level channel (AWGN for AWGN; per-symbol
Rayleigh fading with perfect CSI, ``rayleigh_fast``, for TDL-A).

``header_outage_bound``: the share of images whose burst met a channel whose capacity over the header's
slots is below the header's rate, so that no code of the header's length could have delivered them; one
minus it bounds ``delivered_ratio`` from above (a static channel per burst gives no time diversity).
"""

from __future__ import annotations

import numpy as np
import torch

from ..bundles.evaluate import evaluate_bundle
from ..bundles.image import load_bundle
from ..channels import TDLSampleChannel
from ..data import load_dataset
from ..link.air import BurstHeader, BurstLayout, BurstReceiver, modulate_burst
from ..link.air.header import HEADER_INFO_BITS
from ..metrics import psnr
from ..records import write_results
from ..symbols import SideInfo
from ..units import noise_var_from_snr_db

__all__ = ["DEFAULT_SNRS", "format_delivery", "ota_delivery"]

DEFAULT_SNRS = (-3.0, 0.0, 3.0, 6.0, 10.0, 15.0, 20.0)
#: TDL-A of 100 ns RMS delay spread at 10 MS/s: about 1 sample RMS, 10 samples long (within the cyclic prefix).
TDL_A = {"model": "A", "delay_spread": 100e-9, "sample_rate": 10e6, "block_len": 0}
FALLBACK = "mean of the evaluated test images"
#: Header bits per header slot (BPSK subcarrier): below this capacity no code can deliver the header.
HEADER_RATE = HEADER_INFO_BITS / (BurstLayout().header_symbols * BurstLayout().ofdm.n_data)


def _stream(layout, frames, burst: int, bundle_id: int, rng) -> list:
    """The bursts of ``frames`` (payload, SideInfo), ``burst`` images each, each followed by a random gap."""
    parts = [np.zeros(int(rng.integers(100, 600)), np.complex64)]
    for first in range(0, len(frames), burst):
        group = frames[first: first + burst]
        side = group[0][1]
        header = BurstHeader(bundle_id=bundle_id, seq=first % 65536, count=len(group), length=len(group[0][0]),
                             end=int(side.end), q=int(side.q))
        ranges = [(float(s.z_min), float(s.z_max)) for _, s in group] if side.q else None
        gap = np.zeros(int(rng.integers(32, 400)), np.complex64)
        parts.append(np.concatenate([modulate_burst(layout, header, [p for p, _ in group], ranges), gap]))
    parts.append(np.zeros(2000, np.complex64))
    return parts


def _header_capacity(layout, taps: np.ndarray, snr_db: float) -> float:
    """Bits per header slot the channel ``taps`` can carry at ``snr_db``: the Gaussian-input capacity averaged
    over the data subcarriers (an upper bound for any code and modulation)."""
    gain = np.abs(np.fft.fft(taps, layout.fft_len)[np.asarray(layout.ofdm.data_carriers) % layout.fft_len]) ** 2
    return float(np.mean(np.log2(1 + 10 ** (snr_db / 10) * gain)))


def _air(parts: list, layout, channel: str, snr_db: float, cfo: float, seed: int) -> tuple[np.ndarray, list]:
    """The bursts (each with its gap) through the channel: TDL-A draws a new static channel per burst.
    Returns the received samples and, per part, the capacity of its channel (:func:`_header_capacity`)."""
    rng = np.random.default_rng(seed)
    if channel == "tdl-a":
        channels = [TDLSampleChannel(**TDL_A, seed=seed + i) for i in range(len(parts))]
        capacity = [_header_capacity(layout, c.taps(), snr_db) for c in channels]
        parts = [c.apply(p) for c, p in zip(channels, parts)]
    else:
        capacity = [_header_capacity(layout, np.ones(1), snr_db)] * len(parts)
    x = np.concatenate(parts)
    x = x * np.exp(2j * np.pi * cfo / layout.fft_len * np.arange(x.size))
    sigma = layout.noise_voltage(snr_db)
    noise = sigma / np.sqrt(2) * (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size))
    return (x + noise).astype(np.complex64), capacity


@torch.no_grad()
def delivery_point(bundle, images, channel: str, snr_db: float, cfo: float, burst: int, seed: int = 0) -> dict:
    layout = BurstLayout()
    rng = np.random.default_rng(seed)
    frames = bundle.transmit(images, noise_var=noise_var_from_snr_db(snr_db))
    stream = _stream(layout, frames, burst, bundle.bundle_id, rng)
    rx = BurstReceiver(layout, bundle_id=bundle.bundle_id)
    received_samples, capacity = _air(stream, layout, channel, snr_db, cfo, seed + 1)
    got = rx.feed(received_samples) + rx.flush()
    # images whose burst's channel could not carry the header with any code of its length (the first and
    # last parts of the stream are gaps)
    sizes = [min(burst, len(frames) - first) for first in range(0, len(frames), burst)]
    outage = sum(n for n, c in zip(sizes, capacity[1:-1]) if c < HEADER_RATE)
    samples = sum(p.size for p in stream[1:-1])
    received = {}
    for image in got:
        i = int(image.tags["index"])
        if i < len(frames) and i not in received:
            received[i] = (image.payload, SideInfo.from_tags(image.tags, frame_length=image.payload.size))
    x_hat = images.mean(dim=0, keepdim=True).repeat(len(images), 1, 1, 1)     # the fallback
    if received:
        order = sorted(received)
        rec, _ = bundle.receive([received[i] for i in order])
        x_hat[order] = torch.from_numpy(rec)
    return {"sent": len(frames), "delivered": len(received), "delivered_ratio": len(received) / len(frames),
            "psnr": float(psnr(x_hat, images).mean()), "fallback": FALLBACK, "drops": dict(rx.drops),
            "header_failures": dict(rx.burst_failures), "samples_per_image": samples / len(frames),
            "header_outage_bound": outage / len(frames)}


def ota_delivery(bundle_path, snrs=DEFAULT_SNRS, channels=("awgn", "tdl-a"), cfo: float = 2.5, burst: int = 32,
                 images: int = 512, out_dir=None, progress: bool = True) -> list[dict]:
    """One record per (channel, snr_db, cfo, burst); with ``out_dir``: ``delivery.jsonl``, ``delivery.md`` and
    ``delivery.png`` there."""
    bundle = load_bundle(bundle_path)
    name, root = bundle.dataset()
    x, _ = load_dataset(name, split="test", root=root).batch(range(int(images)))
    records = []
    for channel in channels:
        symbol_channel = "awgn" if channel == "awgn" else "rayleigh_fast"
        reference = {r["snr_db"]: r["metrics"]["psnr"] if "metrics" in r else r["psnr"]
                     for r in evaluate_bundle(bundle, symbol_channel, list(snrs), samples=int(images), progress=False)}
        for k, snr in enumerate(snrs):
            point = delivery_point(bundle, x, channel, float(snr), float(cfo), int(burst), seed=100 * k + 7)
            rec = {"bundle": str(bundle_path), "channel": channel, "snr_db": float(snr), "cfo": float(cfo),
                   "burst": int(burst), **point, "psnr_symbol_level": reference.get(float(snr)),
                   "symbol_channel": symbol_channel}
            records.append(rec)
            if progress:
                print(f"ota: {channel:6s} {snr:5.1f} dB  delivered {rec['delivered']}/{rec['sent']}  "
                      f"PSNR {rec['psnr']:6.2f} (symbol level {rec['psnr_symbol_level']:6.2f})", flush=True)
    if out_dir is not None:
        out = write_results(out_dir, "delivery", records, format_delivery(records))
        plot_delivery(records, out / "delivery.png")
    return records


def format_delivery(records) -> str:
    lines = ["| channel | SNR dB | CFO (subcarriers) | burst | delivered / sent | delivery bound | PSNR over all sent | "
             "PSNR symbol level | gap dB |", "|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        ref = r.get("psnr_symbol_level")
        gap = "n/a" if ref is None else f"{ref - r['psnr']:.2f}"
        reference = "n/a" if ref is None else f"{ref:.2f}"
        bound = 1 - r.get("header_outage_bound", 0.0)
        lines.append(f"| {r['channel']} | {r['snr_db']:g} | {r['cfo']:g} | {r['burst']} | "
                     f"{r['delivered']}/{r['sent']} | {bound:.3f} | {r['psnr']:.2f} | {reference} | {gap} |")
    return "\n".join(lines)


def plot_delivery(records, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for channel in sorted({r["channel"] for r in records}):
        rows = sorted((r for r in records if r["channel"] == channel), key=lambda r: r["snr_db"])
        snr = [r["snr_db"] for r in rows]
        line, = a.plot(snr, [r["delivered_ratio"] for r in rows], "o-", label=channel)
        a.plot(snr, [1 - r.get("header_outage_bound", 0.0) for r in rows], ":", color=line.get_color(),
               label=f"{channel}, bound (header capacity)")
        b.plot(snr, [r["psnr"] for r in rows], "o-", label=f"{channel}, over the air")
        b.plot(snr, [r["psnr_symbol_level"] for r in rows], "x--", label=f"{channel}, symbol level")
    a.set(xlabel="SNR per subcarrier (dB)", ylabel="delivered / sent", ylim=(0, 1.05), title="Delivery")
    b.set(xlabel="SNR per subcarrier (dB)", ylabel="PSNR over all sent images (dB)", title="Quality")
    for ax in (a, b):
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
