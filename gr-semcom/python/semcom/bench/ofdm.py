#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""``semcom bench ofdm``: throughput of the OFDM physical layer and of the whole semantic link."""

from __future__ import annotations

import time

import numpy as np
from gnuradio import blocks, gr

from semcom_core.units import noise_var_from_snr_db

from ..base.bundles import load_bundle
from ..base.stream import frames_source
from ..ofdm_rx import ofdm_rx
from ..ofdm_tx import ofdm_tx
from ..phy.impairments import Impairments
from ..running.links import run_image_link


def _payload_frames(bundle_path, num_images: int, snr_db: float):
    """MIJSCC payload frames (payload only) and their tags for ``num_images`` test images."""
    import torch

    from semcom_core.data import load_dataset

    bundle = load_bundle(bundle_path)
    name, root = bundle.dataset()
    images, _ = load_dataset(name, split="test", root=root).batch(range(num_images))
    frames, tags = [], []
    with torch.no_grad():
        sent = bundle.transmit(images, noise_var=noise_var_from_snr_db(snr_db))
    for i, (payload, side) in enumerate(sent):
        frames.append(payload if len(payload) else np.zeros(1, np.complex64))
        tags.append({"index": i, "q": side.q, "end": side.end, "z_min": side.z_min, "z_max": side.z_max,
                     "bundle_id": bundle.bundle_id})
    return frames, tags


def _run_until_idle(tb, count, total: int, idle_s=2.0, timeout_s=600.0) -> float:
    """Start ``tb``; stop it once ``count()`` reaches ``total`` or stops growing for ``idle_s`` (message-driven
    OFDM receivers never end by themselves). Returns the seconds until the last progress."""
    t0 = time.perf_counter()
    tb.start()
    last, last_change = -1, t0
    while time.perf_counter() - t0 < timeout_s:
        now, c = time.perf_counter(), count()
        if c != last:
            last, last_change = c, now
        if c >= total or now - last_change > idle_s:
            break
        time.sleep(0.002)
    tb.stop()
    tb.wait()
    return last_change - t0


def bench_ofdm(bundle, num_images=2000, snr_db=20.0, fft_len=64, cp_len=16, link_images=300) -> dict:
    """Throughput of the OFDM physical layer and of the whole semantic link, from one run each.

    - transmitter: ``num_images`` pre-encoded payload frames through ``ofdm_tx`` (samples/s, frames/s);
    - receiver: those bursts, with noise at ``snr_db``, through ``ofdm_rx`` (samples/s, frames/s);
    - link: ``link_images`` images through mijscc_tx -> ofdm_tx -> channel -> ofdm_rx -> mijscc_rx
      -> metrics_sink (images/s, encoder and decoder included).

    ``usrp_rate_for_link`` is the sample rate a USRP would need to carry the link's image rate
    (images/s x samples per image, gaps included).
    """
    frames, tags = _payload_frames(bundle, num_images, snr_db)
    tx = ofdm_tx(fft_len, cp_len)
    rec = blocks.vector_sink_c()
    tb = gr.top_block()
    tb.connect(frames_source(frames, tags), tx, rec)
    expected = sum(tx.layout.frame_samples(len(f)) + tx.gap for f in frames)
    tx_s = _run_until_idle(tb, tx.samples_sent, expected)
    samples = np.asarray(rec.data(), dtype=np.complex64)
    rng = np.random.default_rng(0)
    sigma = tx.layout.noise_voltage(snr_db)
    noisy = samples + (sigma / np.sqrt(2) * (rng.standard_normal(samples.size)
                                             + 1j * rng.standard_normal(samples.size))).astype(np.complex64)
    rx = ofdm_rx(fft_len, cp_len)
    tb2 = gr.top_block()
    tb2.connect(blocks.vector_source_c(noisy.tolist(), False), rx, blocks.null_sink(gr.sizeof_gr_complex))
    rx_s = _run_until_idle(tb2, lambda: rx.frames() + rx.dropped(), len(frames))
    link = run_image_link(bundle, link_images, Impairments(snr_db=snr_db), timeout_s=600)
    per_image = samples.size / len(frames)
    return {
        "frames": len(frames), "samples": int(samples.size), "samples_per_image": per_image,
        "payload_symbols_per_image": float(np.mean([len(f) for f in frames])),
        "tx_s": tx_s, "tx_samples_per_s": samples.size / tx_s, "tx_frames_per_s": len(frames) / tx_s,
        "rx_s": rx_s, "rx_samples_per_s": samples.size / rx_s, "rx_frames_per_s": rx.frames() / rx_s,
        "rx_frames": rx.frames(), "rx_dropped": rx.dropped(),
        "link_images": link["count"], "link_images_per_s": link["images_per_s"], "link_psnr": link["psnr"],
        "usrp_rate_for_link": link["images_per_s"] * per_image,
        "usrp_rate_for_tx": len(frames) / tx_s * per_image, "usrp_rate_for_rx": rx.frames() / rx_s * per_image,
    }


def format_bench(r: dict) -> str:
    """The benchmark as a small table."""
    rows = [
        ("ofdm_tx", r["tx_frames_per_s"], r["tx_samples_per_s"], r["usrp_rate_for_tx"]),
        ("ofdm_rx", r["rx_frames_per_s"], r["rx_samples_per_s"], r["usrp_rate_for_rx"]),
        ("semantic link (tx+rx+models)", r["link_images_per_s"], r["link_images_per_s"] * r["samples_per_image"],
         r["usrp_rate_for_link"]),
    ]
    lines = [f"OFDM bench: {r['frames']} frames, {r['payload_symbols_per_image']:.1f} payload symbols and "
             f"{r['samples_per_image']:.0f} samples per image (header, preamble and gap included)",
             f"{'stage':<30} {'images/s':>10} {'samples/s':>12} {'USRP rate for it':>17}"]
    for name, ips, sps, usrp in rows:
        lines.append(f"{name:<30} {ips:>10.0f} {sps / 1e6:>10.2f} M {usrp / 1e6:>15.2f} M")
    lines.append(f"receiver: {r['rx_frames']} frames decoded, {r['rx_dropped']} dropped; "
                 f"link PSNR {r['link_psnr']:.2f} dB")
    return "\n".join(lines)


#: The impairments of the gap measurement besides noise: 5 % of the subcarrier spacing of carrier
#: offset, a 20 ppm sample-clock offset and a two-path channel.
