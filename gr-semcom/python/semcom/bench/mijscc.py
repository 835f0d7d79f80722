#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""``semcom bench mijscc-gr`` and the symbol-level reference of the OFDM flowgraphs (MIJSCC / A-MIJSCC)."""

from __future__ import annotations

import numpy as np

from semcom_core.units import noise_var_from_snr_db

from ..base.bundles import load_bundle
from ..running.loopback import run_adaptive_snr


MIJSCC_BENCH_CONFIGS = (("analog", 0, False), ("8-bit", 8, False), ("A-MIJSCC 8-bit", 8, True))


def bench_mijscc(bundle, snrs=(6.0, 18.0), num_images=300, max_batch=64, channel="awgn", timeout_s=600.0,
                 grc_path=None, progress=False) -> list[dict]:
    """Symbols per image and images per second through adaptive_snr.grc (tx -> channel -> rx) for
    analog, 8-bit and A-MIJSCC 8-bit frames, each at every SNR of ``snrs`` (one run per point).

    Returns one row per point: ``config``, ``snr_db``, ``payload``, ``header``, ``total`` (mean
    symbols per image), ``gamma``, ``images_per_s``, ``delivered`` (fraction), ``psnr``,
    ``accuracy``, ``images``, ``complete``.
    """
    rows = []
    for name, quant_bits, adaptive in MIJSCC_BENCH_CONFIGS:
        for snr in snrs:
            r = run_adaptive_snr(bundle, snrs=(float(snr),), images_per_snr=int(num_images), channel=channel,
                                 quant_bits=quant_bits, adaptive=adaptive, max_batch=max_batch,
                                 timeout_s=timeout_s, grc_path=grc_path, progress=progress)
            (step,) = r["steps"]
            rows.append({
                "config": name, "snr_db": float(snr),
                "payload": step["payload_symbols"], "header": r["header_symbols"], "total": step["symbols"],
                "gamma": step["gamma"], "images_per_s": r["images_per_s"], "delivered": step["delivered_frac"],
                "psnr": r["summary"].get("psnr"), "accuracy": step["accuracy"], "images": step["sent"],
                "complete": r["complete"],
            })
    return rows


def mijscc_reference(bundle, num_images, snr_db, mask_snr_db=None, quant_bits=-1, adaptive=True, seeds=(0, 1, 2),
                     start_index=0) -> dict:
    """What the OFDM flowgraphs' link gives when simulated at the symbol level with semcom_core alone.

    The same bundle and test images (``start_index`` on), ``Bundle.transmit`` with the A-MIJSCC mask
    told ``mask_snr_db`` (default ``snr_db``), AWGN at ``snr_db`` on every payload, side information
    delivered intact, ``Bundle.receive``. Returns ``psnr`` (mean over the images, then over
    ``seeds``), ``psnr_by_seed``, ``accuracy`` and ``payload_symbols`` (mean per image).
    """
    import torch

    from semcom_core.channels import make_channel
    from semcom_core.data import load_dataset
    from semcom_core.metrics import psnr as psnr_fn


    b = load_bundle(bundle)
    name, root = b.dataset()
    ds = load_dataset(name, split="test", root=root)
    stop = min(len(ds), int(start_index) + int(num_images))
    images, labels = ds.batch(range(int(start_index), stop))
    mask_snr = float(snr_db if mask_snr_db is None else mask_snr_db)
    with torch.no_grad():
        frames = b.transmit(images, noise_var=noise_var_from_snr_db(mask_snr), quant_bits=quant_bits, adaptive=bool(adaptive))
        by_seed, correct = [], 0
        for seed in seeds:
            ch = make_channel("awgn", generator=torch.Generator().manual_seed(int(seed)))
            received = [(ch(torch.from_numpy(p)[None], float(snr_db))[0].numpy(), info) for p, info in frames]
            x_hat, pred = b.receive(received, quant_bits=quant_bits)
            by_seed.append(float(psnr_fn(images, torch.from_numpy(x_hat)).mean()))
            correct += int((torch.from_numpy(pred) == labels).sum())
    return {"psnr": float(np.mean(by_seed)), "psnr_by_seed": by_seed,
            "accuracy": correct / (len(frames) * len(seeds)),
            "payload_symbols": float(np.mean([len(p) for p, _ in frames]))}
