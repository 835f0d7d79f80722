"""semcom bench ota: a shipped bundle over the burst PHY against the symbol-level channel."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from semcom_core.experiments.ota import FALLBACK, HEADER_RATE, _header_capacity, ota_delivery
from semcom_core.link.air import BurstLayout

BUNDLE = Path(__file__).resolve().parents[2] / "bundles" / "deepjscc-fmnist-1_12"


@pytest.mark.skipif(not BUNDLE.is_dir(), reason="the shipped DeepJSCC bundle is not in this checkout")
def test_delivery_records_table_and_plot(tmp_path):
    records = ota_delivery(str(BUNDLE), snrs=(12.0,), channels=("awgn", "tdl-a"), images=64, burst=16,
                           out_dir=tmp_path, progress=False)
    awgn, tdl = records
    assert awgn["sent"] == awgn["delivered"] == 64 and awgn["fallback"] == FALLBACK
    assert abs(awgn["psnr"] - awgn["psnr_symbol_level"]) < 0.5, awgn
    assert tdl["channel"] == "tdl-a" and tdl["symbol_channel"] == "rayleigh_fast" and tdl["delivered"] >= 48
    assert tdl["psnr"] < awgn["psnr"], "multipath fading costs quality"
    assert awgn["header_outage_bound"] == 0.0 and 0.0 <= tdl["header_outage_bound"] <= 0.25
    assert awgn["samples_per_image"] < 100 / 0.4      # bursts of 16 images of 65 symbols
    lines = (tmp_path / "delivery.jsonl").read_text().splitlines()
    assert [json.loads(line)["channel"] for line in lines] == ["awgn", "tdl-a"]
    assert "| awgn | 12 |" in (tmp_path / "delivery.md").read_text()
    assert (tmp_path / "delivery.png").stat().st_size > 10_000


def test_header_capacity_bound_is_the_flat_channel_capacity_and_fading_only_lowers_it():
    layout = BurstLayout()
    assert _header_capacity(layout, np.ones(1), 0.0) == pytest.approx(1.0)          # log2(1 + 1)
    two_paths = np.array([1.0, 0.8j])                                                  # frequency selective
    carriers = np.asarray(layout.ofdm.data_carriers) % layout.fft_len
    mean_gain = np.mean(np.abs(np.fft.fft(two_paths, layout.fft_len)[carriers]) ** 2)
    flat = np.array([np.sqrt(mean_gain)])                                              # the same mean power
    assert _header_capacity(layout, two_paths, 0.0) < _header_capacity(layout, flat, 0.0)     # Jensen
    assert HEADER_RATE == pytest.approx(92 / (layout.header_symbols * layout.ofdm.n_data))
    assert 0 < HEADER_RATE < 0.5
