#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""``semcom bench flowgraph``: images per second through the loopback flowgraph against the same models in a
bare batched loop, in one run."""

from __future__ import annotations

import time

from ..base.bundles import load_bundle, resolve_precision
from ..running.loopback import run_loopback


def _bare_loop(bundle, link, images, snr_db, channel, max_batch, precision, seed=0) -> tuple[float, float]:
    """The flowgraph's chain as a plain batched loop in one thread (the bundle's networks in ``precision``, its
    symbol codec, a semcom channel, the classifier); returns (seconds, mean PSNR in dB)."""
    import torch

    from semcom_core.channels import make_channel
    from semcom_core.metrics import psnr

    ch = make_channel(channel, generator=torch.Generator().manual_seed(seed))
    scores = []
    t0 = time.perf_counter()
    with torch.no_grad():
        for lo in range(0, len(images), max_batch):
            x = images[lo: lo + max_batch]
            sent = link.send(bundle.encode(x, precision), adaptive=False)
            x_hat = bundle.decode(link.recover(ch(sent.symbols, snr_db), sent.side), precision)
            bundle.classify(x_hat, precision).argmax(1)
            scores.append(psnr(x_hat, x))
    return time.perf_counter() - t0, float(torch.cat(scores).mean())


def bench_flowgraph(bundle, num_images=1000, max_batch=64, snr_db=10.0, channel="awgn", quant_bits=0,
                    timeout_s=600.0, grc_path=None, progress=False, precision="auto", repeats=3) -> dict:
    """Images per second through the loopback flowgraph vs. the same model in a bare batched loop.

    Both process the same ``num_images`` test images with the same batch
    size; the bare loop runs encode -> symbol codec -> channel -> decode ->
    classify batch after batch (the flowgraph also scores PSNR in its
    metrics sink). The bare loop is timed with torch's default number of
    threads and with one thread, and the faster counts: on a busy machine
    torch's OpenMP threads can slow each other down several times over.
    Both run the networks in the same ``precision`` (the blocks' default
    "auto": bfloat16 where the CPU has it natively), and both are warmed up
    first (imports, first forward passes), so the rates are steady-state ones;
    the two are measured ``repeats`` times in turn and the best of each counts.

    Returns ``images_per_s_flowgraph``, ``images_per_s_bare``, ``ratio``
    (flowgraph / bare) and details, among them ``psnr_bare`` and
    ``psnr_fp32``: the bare loop's PSNR in ``precision`` and in float32 with
    the same channel noise (what the precision costs).
    """
    import torch

    from semcom_core.data import load_dataset

    b = load_bundle(bundle)
    link = b.link(quant_bits)
    name, root = b.dataset()
    ds = load_dataset(name, split="test", root=root)
    n = min(int(num_images), len(ds))
    images, _ = ds.batch(range(n))
    precision = resolve_precision(precision)
    warm = images[: 2 * max_batch]
    _bare_loop(b, link, warm, snr_db, channel, max_batch, precision)
    run_loopback(bundle, snr_db, channel, len(warm), "", timeout_s, quant_bits, max_batch, grc_path,
                 precision=precision)
    default_threads = torch.get_num_threads()
    flowgraph_rates, bare_by_threads, fg = [], {}, None
    try:
        for _ in range(int(repeats)):          # alternated, best of each: the machine's load varies
            run = run_loopback(bundle, snr_db, channel, n, "", timeout_s, quant_bits, max_batch, grc_path,
                               progress, precision=precision)
            flowgraph_rates.append(run["images_per_s"] if run["complete"] else float("nan"))
            fg = run if fg is None or run["images_per_s"] > fg["images_per_s"] else fg
            for threads in sorted({default_threads, 1}, reverse=True):
                torch.set_num_threads(threads)
                seconds, psnr_bare = _bare_loop(b, link, images, snr_db, channel, max_batch, precision)
                bare_by_threads[threads] = max(bare_by_threads.get(threads, 0.0), n / seconds)
    finally:
        torch.set_num_threads(default_threads)
    best_threads = max(bare_by_threads, key=bare_by_threads.get)
    _, psnr_fp32 = _bare_loop(b, link, images, snr_db, channel, max_batch, "fp32")
    fg_rate = max((r for r in flowgraph_rates if r == r), default=float("nan"))   # complete runs only
    bare_rate = bare_by_threads[best_threads]
    return {
        "images_per_s_flowgraph": fg_rate,
        "images_per_s_bare": bare_rate,
        "ratio": fg_rate / bare_rate,
        "precision": precision,
        "num_images": n,
        "max_batch": int(max_batch),
        "flowgraph_s": fg["elapsed_s"],
        "flowgraph_complete": fg["complete"],
        "images_per_s_flowgraph_runs": flowgraph_rates,
        "bare_threads": best_threads,
        "images_per_s_bare_by_threads": bare_by_threads,
        "psnr_flowgraph": fg["psnr"],
        "psnr_bare": psnr_bare,
        "psnr_fp32": psnr_fp32,
    }
