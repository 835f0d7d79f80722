#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The multi-device RGB-D flowgraph headless: two devices with their own channels, one server."""

from __future__ import annotations

import time

from .grc import RGBD_GRC, compiled_top_block


def make_rgbd(bundle, snr_db=(10.0, 10.0), channel="awgn", num_samples=200, timeout_ms=500.0, data_root="",
              grc_path=None):
    """Build (not start) flowgraphs/rgbd_devices.grc; ``snr_db``: one SNR for both devices or (RGB, depth)."""
    snrs = list(snr_db) if isinstance(snr_db, (list, tuple)) else [snr_db, snr_db]
    if len(snrs) != 2:
        raise ValueError(f"snr_db: one value or one per device (RGB, depth), got {snr_db!r}")
    cls = compiled_top_block(grc_path, RGBD_GRC)
    return cls(bundle=str(bundle), snr_rgb=float(snrs[0]), snr_depth=float(snrs[1]), channel=str(channel),
               num_samples=int(num_samples), timeout_ms=float(timeout_ms), data_root=str(data_root or ""))


def run_rgbd(bundle, snr_db=(10.0, 10.0), channel="awgn", num_samples=200, timeout_ms=500.0, data_root="",
             timeout_s=600.0, grc_path=None) -> dict:
    """Run the RGB-D flowgraph until the server has classified every sample (or ``timeout_s``); returns the
    server's summary with ``complete``, ``elapsed_s``, ``samples_per_s`` and the devices' drop counts."""
    tb = make_rgbd(bundle, snr_db, channel, num_samples, timeout_ms, data_root, grc_path)
    expected = tb.source.num_samples()
    t0 = time.perf_counter()
    tb.start()
    try:
        deadline = t0 + float(timeout_s)
        while tb.server.classified() < expected and time.perf_counter() < deadline:
            time.sleep(0.02)
        elapsed = time.perf_counter() - t0
    finally:
        tb.stop()
        tb.wait()
    summary = tb.server.summary()
    summary.update(complete=summary["classified"] >= expected, expected=expected, elapsed_s=elapsed,
                   samples_per_s=summary["classified"] / elapsed if elapsed > 0 else float("nan"),
                   dropped_tx={m: getattr(tb, f"tx_{m}").dropped() for m in ("rgb", "depth")},
                   dropped_rx={m: getattr(tb, f"rx_{m}").dropped() for m in ("rgb", "depth")})
    return summary
