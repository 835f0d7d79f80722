#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""``semcom bench flowgraph``: images per second through the loopback flowgraph against the same models in a
bare batched loop, in one run."""

from __future__ import annotations

import time

from ..base.bundles import load_bundle
from ..running.loopback import run_loopback


def _bare_loop(bundle, link, images, snr_db, channel, max_batch, seed=0) -> float:
    """The flowgraph's chain as a plain batched loop in one thread (the bundle's link, a semcom channel, the
    classifier); returns the seconds it took."""
    import torch

    from semcom_core.channels import make_channel

    ch = make_channel(channel, generator=torch.Generator().manual_seed(seed))
    t0 = time.perf_counter()
    with torch.no_grad():
        for lo in range(0, len(images), max_batch):
            sent = link.transmit(images[lo: lo + max_batch])
            bundle.classify(link.receive(ch(sent.symbols, snr_db), sent.side)).argmax(1)
    return time.perf_counter() - t0


def bench_flowgraph(bundle, num_images=1000, max_batch=64, snr_db=10.0, channel="awgn", quant_bits=0,
                    timeout_s=600.0, grc_path=None, progress=False) -> dict:
    """Images per second through the loopback flowgraph vs. the same model in a bare batched loop.

    Both process the same ``num_images`` test images with the same batch
    size; the bare loop runs encode -> symbol codec -> channel -> decode ->
    classify batch after batch (the flowgraph also scores PSNR in its
    metrics sink). The bare loop is timed with torch's default number of
    threads and with one thread, and the faster counts: on a busy machine
    torch's OpenMP threads can slow each other down several times over.

    Returns ``images_per_s_flowgraph``, ``images_per_s_bare``, ``ratio``
    (flowgraph / bare) and details.
    """
    import torch

    from semcom_core.data import load_dataset

    b = load_bundle(bundle)
    link = b.link(quant_bits)
    name, root = b.dataset()
    ds = load_dataset(name, split="test", root=root)
    n = min(int(num_images), len(ds))
    images, _ = ds.batch(range(n))
    _bare_loop(b, link, images[: 2 * max_batch], snr_db, channel, max_batch)   # warm-up
    fg = run_loopback(bundle, snr_db, channel, n, "", timeout_s, quant_bits, max_batch, grc_path, progress)
    default_threads = torch.get_num_threads()
    bare_by_threads = {}
    try:
        for threads in sorted({default_threads, 1}, reverse=True):
            torch.set_num_threads(threads)
            bare_by_threads[threads] = n / _bare_loop(b, link, images, snr_db, channel, max_batch)
    finally:
        torch.set_num_threads(default_threads)
    best_threads = max(bare_by_threads, key=bare_by_threads.get)
    fg_rate = fg["images_per_s"] if fg["complete"] else float("nan")
    bare_rate = bare_by_threads[best_threads]
    return {
        "images_per_s_flowgraph": fg_rate,
        "images_per_s_bare": bare_rate,
        "ratio": fg_rate / bare_rate,
        "num_images": n,
        "max_batch": int(max_batch),
        "flowgraph_s": fg["elapsed_s"],
        "flowgraph_complete": fg["complete"],
        "bare_threads": best_threads,
        "images_per_s_bare_by_threads": bare_by_threads,
        "psnr_flowgraph": fg["psnr"],
    }
