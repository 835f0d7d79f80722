#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The multi-device RGB-D flowgraphs headless: two devices with their own channels (symbol-level, or an OFDM
link each), one server."""

from __future__ import annotations

from .grc import RGBD_GRC, RGBD_OFDM_GRC, compiled_top_block
from .run import run_until_quiet


def make_rgbd(bundle, snr_db=(10.0, 10.0), channel="awgn", num_samples=200, timeout_ms=500.0, data_root="",
              grc_path=None):
    """Build (not start) flowgraphs/rgbd_devices.grc; ``snr_db``: one SNR for both devices or (RGB, depth)."""
    snrs = _snr_pair(snr_db)
    cls = compiled_top_block(grc_path, RGBD_GRC)
    return cls(bundle=str(bundle), snr_rgb=float(snrs[0]), snr_depth=float(snrs[1]), channel=str(channel),
               num_samples=int(num_samples), timeout_ms=float(timeout_ms), data_root=str(data_root or ""))


def _snr_pair(snr_db) -> list[float]:
    snrs = list(snr_db) if isinstance(snr_db, (list, tuple)) else [snr_db, snr_db]
    if len(snrs) != 2:
        raise ValueError(f"snr_db: one value or one per device (RGB, depth), got {snr_db!r}")
    return [float(s) for s in snrs]


def make_rgbd_ofdm(bundle, snr_db=(20.0, 20.0), num_samples=200, timeout_ms=500.0, data_root="", fft_len=64,
                   cp_len=16, threshold=0.45, grc_path=None):
    """Build (not start) flowgraphs/rgbd_ofdm.grc: each device over an OFDM link of its own."""
    snrs = _snr_pair(snr_db)
    cls = compiled_top_block(grc_path, RGBD_OFDM_GRC)
    return cls(bundle=str(bundle), snr_rgb=snrs[0], snr_depth=snrs[1], num_samples=int(num_samples),
               timeout_ms=float(timeout_ms), data_root=str(data_root or ""), fft_len=int(fft_len), cp_len=int(cp_len),
               threshold=float(threshold))


def run_rgbd_ofdm(bundle, snr_db=(20.0, 20.0), num_samples=200, timeout_ms=500.0, data_root="", timeout_s=600.0,
                  idle_s=5.0, grc_path=None) -> dict:
    """Run the RGB-D flowgraph over OFDM; as :func:`run_rgbd`, and it also stops ``idle_s`` seconds after the
    last decision once the source is done (samples whose bursts both devices lost never come)."""
    tb = make_rgbd_ofdm(bundle, snr_db, num_samples, timeout_ms, data_root, grc_path=grc_path)
    summary = _run_server(tb, timeout_s, idle_s)
    summary["bursts"] = {m: getattr(tb, f"otx_{m}").bursts() for m in ("rgb", "depth")}
    return summary


def run_rgbd(bundle, snr_db=(10.0, 10.0), channel="awgn", num_samples=200, timeout_ms=500.0, data_root="",
             timeout_s=600.0, grc_path=None) -> dict:
    """Run the RGB-D flowgraph until the server has classified every sample (or ``timeout_s``); returns the
    server's summary with ``complete``, ``elapsed_s``, ``samples_per_s`` and the devices' drop counts."""
    return _run_server(make_rgbd(bundle, snr_db, channel, num_samples, timeout_ms, data_root, grc_path), timeout_s)


def _run_server(tb, timeout_s: float, idle_s: float | None = None) -> dict:
    """Start ``tb``; stop when its server has classified every sample of its source, at ``timeout_s``, or
    (with ``idle_s``) that long after the last decision once the source is done."""
    expected = tb.source.num_samples()
    elapsed = run_until_quiet(tb, tb.server.classified, expected, tb.source.finished, timeout_s, idle_s)
    summary = tb.server.summary()
    summary.update(complete=summary["classified"] >= expected, expected=expected, elapsed_s=elapsed,
                   samples_per_s=summary["classified"] / elapsed if elapsed > 0 else float("nan"),
                   dropped_tx={m: getattr(tb, f"tx_{m}").dropped() for m in ("rgb", "depth")},
                   dropped_rx={m: getattr(tb, f"rx_{m}").dropped() for m in ("rgb", "depth")})
    return summary
