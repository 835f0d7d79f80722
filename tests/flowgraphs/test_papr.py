"""The PAPR figure of `semcom bench ofdm`: 0 dB for a constant envelope, an OFDM burst's usual 8-11 dB."""

import numpy as np
import pytest

pytest.importorskip("gnuradio.gr", reason="GNU Radio is not importable by this Python")

from gnuradio.semcom.bench.ofdm import papr_db   # noqa: E402
from semcom_core.link.air import BurstHeader, BurstLayout, modulate_burst   # noqa: E402


def test_constant_envelope_and_gaps():
    tone = np.exp(1j * np.linspace(0, 40, 4000)).astype(np.complex64)
    with_gaps = np.concatenate([np.zeros(500, np.complex64), tone, np.zeros(500, np.complex64)])
    figures = papr_db(with_gaps)                       # the silent gaps do not count
    assert abs(figures["papr_peak_db"]) < 1e-3 and abs(figures["papr_999_db"]) < 1e-3
    assert np.isnan(papr_db(np.zeros(10, np.complex64))["papr_peak_db"])


def test_an_ofdm_burst_has_the_papr_of_ofdm():
    rng = np.random.default_rng(0)
    payloads = [((rng.standard_normal(600) + 1j * rng.standard_normal(600)) / np.sqrt(2)).astype(np.complex64)
                for _ in range(8)]
    burst = modulate_burst(BurstLayout(), BurstHeader(bundle_id=1, seq=0, count=8, length=600, end=600, q=0),
                           payloads)
    figures = papr_db(burst)
    assert 7.0 < figures["papr_999_db"] < 11.5 and figures["papr_999_db"] <= figures["papr_peak_db"] < 14.0
