#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""``semcom bench ofdm``: airtime and throughput of the burst physical layer, against GNU Radio's own OFDM
receiver measured in the same run, and of the whole semantic link."""

from __future__ import annotations

import time

import numpy as np
from gnuradio import blocks, digital, gr

from semcom_core.units import noise_var_from_snr_db

from ..base.bundles import load_bundle
from ..base.stream import frames_source
from ..ofdm_rx import ofdm_rx
from ..ofdm_tx import ofdm_tx
from ..phy.impairments import Impairments
from ..running.links import run_image_link


def _payload_frames(bundle_path, num_images: int, snr_db: float):
    """Payload frames and their tags for ``num_images`` test images of the bundle."""
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


def _run_until(tb, count, total: int, idle_s=2.0, timeout_s=600.0) -> float:
    """Start ``tb``; stop it once ``count()`` reaches ``total`` or stops growing for ``idle_s`` (stream
    receivers never end by themselves). Returns the seconds until the last progress."""
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


#: Each receiver is timed on at least this many samples (its recording replayed), so that starting the
#: flowgraph is a small part of the time measured.
MIN_TIMED_SAMPLES = 2_000_000


def _replays(samples: np.ndarray) -> int:
    return max(1, -(-MIN_TIMED_SAMPLES // max(1, samples.size)))


def _noisy(samples: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = sigma / np.sqrt(2) * (rng.standard_normal(samples.size) + 1j * rng.standard_normal(samples.size))
    return (samples + noise).astype(np.complex64)


def bench_gr_ofdm_rx(num_packets: int, packet_bytes: int, snr_db: float, fft_len=64, cp_len=16) -> dict:
    """GNU Radio's own ``digital.ofdm_tx`` / ``digital.ofdm_rx`` (QPSK payload, BPSK header) on the same
    machine: the receiver's samples/s on a recording of ``num_packets`` packets with noise at ``snr_db``."""
    rng = np.random.default_rng(1)
    payload = rng.integers(0, 256, num_packets * packet_bytes).astype(np.uint8).tolist()
    src = blocks.vector_source_b(payload, False)
    to_tagged = blocks.stream_to_tagged_stream(gr.sizeof_char, 1, packet_bytes, "packet_len")
    tx = digital.ofdm_tx(fft_len=fft_len, cp_len=cp_len, packet_length_tag_key="packet_len", bps_header=1,
                         bps_payload=2, rolloff=0)
    rec = blocks.vector_sink_c()
    tb = gr.top_block()
    tb.connect(src, to_tagged, tx, rec)
    tb.run()
    samples = np.asarray(rec.data(), np.complex64)
    samples = np.concatenate([samples, np.zeros(4 * fft_len, np.complex64)])
    power = float(np.mean(np.abs(samples) ** 2))
    sigma = np.sqrt(power * fft_len / 52 * noise_var_from_snr_db(snr_db))    # Es/N0 per used subcarrier, as ours
    replays = _replays(samples)
    noisy = _noisy(np.tile(samples, replays), sigma, 2)
    rx = digital.ofdm_rx(fft_len=fft_len, cp_len=cp_len, frame_length_tag_key="frame_len",
                         packet_length_tag_key="rx_len", bps_header=1, bps_payload=2)
    out = blocks.vector_sink_b()
    tb2 = gr.top_block()
    tb2.connect(blocks.vector_source_c(noisy.tolist(), False), rx, out)
    seconds = _run_until(tb2, lambda: len(out.data()), replays * num_packets * packet_bytes)
    return {"gr_ofdm_rx_samples_per_s": noisy.size / seconds,
            "gr_ofdm_rx_packets": len(out.data()) // packet_bytes, "gr_ofdm_rx_sent": replays * num_packets,
            "gr_ofdm_samples_per_packet": samples.size / num_packets}


def papr_db(samples) -> dict:
    """The transmitted samples' peak-to-average power ratio over the bursts (the silent gaps left out):
    ``papr_peak_db`` (the highest sample) and ``papr_999_db`` (the power exceeded by 0.1 % of the samples,
    the CCDF point a power amplifier's back-off is usually set by), both against the mean power."""
    power = np.abs(np.asarray(samples, dtype=np.complex64)) ** 2
    power = power[power > 0]
    if not power.size:
        return {"papr_peak_db": float("nan"), "papr_999_db": float("nan")}
    mean = float(power.mean())
    return {"papr_peak_db": float(10 * np.log10(power.max() / mean)),
            "papr_999_db": float(10 * np.log10(np.quantile(power, 0.999) / mean))}


def bench_ofdm(bundle, num_images=2000, snr_db=20.0, burst=32, fft_len=64, cp_len=16, link_images=300,
               gr_packets=500) -> dict:
    """Airtime and throughput of the burst PHY with bursts of up to ``burst`` images, from one run each.

    - transmitter: ``num_images`` pre-encoded payload frames through ``ofdm_tx`` (samples/s);
    - receiver: those bursts, replayed to at least ``MIN_TIMED_SAMPLES``, with noise at ``snr_db``, through
      ``ofdm_rx`` (samples/s; images sent, received and dropped over all replays; latency per image);
    - GNU Radio's own OFDM receiver on a recording of its own transmitter replayed the same way, in the
      same run;
    - link (``link_images`` > 0): images through mijscc_tx -> ofdm_tx -> channel -> ofdm_rx -> mijscc_rx
      -> metrics_sink (images/s, models included).
    """
    frames, tags = _payload_frames(bundle, num_images, snr_db)
    tx = ofdm_tx(fft_len, cp_len, max_burst=int(burst))
    rec = blocks.vector_sink_c()
    tb = gr.top_block()
    tb.connect(frames_source(frames, tags), tx, rec)
    t0 = time.perf_counter()
    tb.run()                                   # the source is finite: the flowgraph ends by itself
    tx_s = time.perf_counter() - t0
    samples = np.asarray(rec.data(), dtype=np.complex64)
    replays = _replays(samples)
    noisy = _noisy(np.tile(samples, replays), tx.layout.noise_voltage(snr_db))
    rx = ofdm_rx(fft_len, cp_len)
    tb2 = gr.top_block()
    tb2.connect(blocks.vector_source_c(noisy.tolist(), False), rx, blocks.null_sink(gr.sizeof_gr_complex))
    rx_s = _run_until(tb2, lambda: rx.frames() + rx.dropped(), replays * len(frames))
    payload = float(np.mean([len(f) for f in frames]))
    result = {
        "bundle": str(bundle), "burst": int(burst), "snr_db": float(snr_db), "images": len(frames),
        "bursts": tx.bursts(), "samples": int(samples.size), "samples_per_image": samples.size / len(frames),
        "payload_symbols_per_image": payload, "payload_symbols_per_sample": payload * len(frames) / samples.size,
        "tx_samples_per_s": samples.size / tx_s, "rx_samples_per_s": noisy.size / rx_s, "rx_replays": replays,
        "rx_sent": replays * len(frames), "rx_frames": rx.frames(), "rx_dropped": rx.dropped(),
        "rx_header_failures": rx.header_failures(),
        "rx_latency_ms": rx.latency_stats(), **papr_db(samples),
    }
    result.update(bench_gr_ofdm_rx(int(gr_packets), 96, snr_db, fft_len, cp_len))
    result["rx_vs_gr_ofdm_rx"] = result["rx_samples_per_s"] / result["gr_ofdm_rx_samples_per_s"]
    if link_images:
        link = run_image_link(bundle, link_images, Impairments(snr_db=snr_db), timeout_s=600, max_burst=int(burst))
        result.update({"link_images": link["count"], "link_images_per_s": link["images_per_s"],
                       "link_psnr": link["psnr"], "usrp_rate_for_link": link["images_per_s"] * result["samples_per_image"]})
    return result


def format_bench(r: dict) -> str:
    """The benchmark as a few lines."""
    lines = [f"OFDM bench: {r['images']} images in {r['bursts']} bursts of up to {r['burst']}, "
             f"{r['payload_symbols_per_image']:.1f} payload symbols and {r['samples_per_image']:.1f} samples per image "
             f"({r['payload_symbols_per_sample']:.3f} payload symbols per sample)",
             f"transmitter             {r['tx_samples_per_s'] / 1e6:6.2f} MS/s  PAPR {r['papr_999_db']:.1f} dB at "
             f"0.1 % (peak {r['papr_peak_db']:.1f} dB)",
             f"receiver (semcom)       {r['rx_samples_per_s'] / 1e6:6.2f} MS/s  "
             f"{r['rx_frames']}/{r['rx_sent']} images, "
             f"{r['rx_dropped']} dropped, {r['rx_header_failures']} header failures, latency "
             f"{r['rx_latency_ms']['mean_ms']:.1f} ms mean / {r['rx_latency_ms']['p95_ms']:.1f} ms p95",
             f"GNU Radio ofdm_rx       {r['gr_ofdm_rx_samples_per_s'] / 1e6:6.2f} MS/s  (same run; "
             f"{r['gr_ofdm_rx_packets']}/{r['gr_ofdm_rx_sent']} packets)  ratio {r['rx_vs_gr_ofdm_rx']:.2f}"]
    if "link_images" in r:
        lines.append(f"semantic link           {r['link_images_per_s']:6.0f} images/s, PSNR {r['link_psnr']:.2f} dB, "
                     f"needs a USRP at {r['usrp_rate_for_link'] / 1e6:.2f} MS/s")
    return "\n".join(lines)
