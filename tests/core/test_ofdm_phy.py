"""The OFDM subcarrier layout, its levels and bundle ids (semcom_core, no GNU Radio)."""

from __future__ import annotations

import numpy as np
import pytest

from semcom_core.symbols.bundle_id import bundle_id
from semcom_core.symbols.ofdm import OfdmLayout


def test_layout_of_64_subcarriers_is_the_80211a_pattern():
    lay = OfdmLayout()
    assert lay.pilot_carriers == (-21, -7, 7, 21) and lay.n_data == 48 and lay.n_used == 52
    assert 0 not in lay.data_carriers and set(lay.data_carriers).isdisjoint(lay.pilot_carriers)


@pytest.mark.parametrize("fft_len", [64, 128, 256, 1024])
def test_sync_words_have_unit_power_and_schmidl_cox_structure(fft_len):
    lay = OfdmLayout(fft_len, fft_len // 4)
    w1, w2 = lay.sync_words
    used = lay.shifted([k for k in range(-lay.used_half, lay.used_half + 1) if k])
    for w in (w1, w2):
        assert np.mean(np.abs(w[used]) ** 2) == pytest.approx(1.0, rel=1e-5)
    time = np.fft.ifft(np.fft.ifftshift(w1))
    assert np.allclose(time[: fft_len // 2], time[fft_len // 2:], atol=1e-6)   # two equal halves


def test_bad_layouts_are_refused():
    for kwargs in ({"fft_len": 48}, {"fft_len": 100}, {"cp_len": 0}, {"fft_len": 64, "cp_len": 40}):
        with pytest.raises(ValueError):
            OfdmLayout(**kwargs)


def test_noise_voltage_gives_the_snr_per_data_subcarrier():
    """Time-domain noise at noise_voltage(snr) is, after the receiver's FFT and the channel gain,
    Es/N0 = snr on the subcarriers (unnormalised FFTs at both ends, as GNU Radio's)."""
    lay = OfdmLayout()
    rng = np.random.default_rng(0)
    amp, snr_db = 0.3, 12.0
    sigma = lay.noise_voltage(snr_db, amp)
    x = rng.choice([-1.0, 1.0], (4000, 64)).astype(np.complex64)
    unused = np.ones(64, bool)
    unused[lay.shifted(lay.data_carriers + lay.pilot_carriers)] = False
    x[:, unused] = 0
    time = np.fft.ifft(np.fft.ifftshift(x, axes=1), axis=1) * 64 * amp / np.sqrt(lay.n_used)
    assert np.mean(np.abs(time) ** 2) == pytest.approx(amp ** 2, rel=0.02)
    noise = sigma * (rng.standard_normal(time.shape) + 1j * rng.standard_normal(time.shape)) / np.sqrt(2)
    gain = 64 * amp / np.sqrt(lay.n_used)
    y = np.fft.fftshift(np.fft.fft(time + noise, axis=1), axes=1) / gain
    err = y[:, lay.shifted(lay.data_carriers)] - x[:, lay.shifted(lay.data_carriers)]
    assert 10 * np.log10(1 / np.mean(np.abs(err) ** 2)) == pytest.approx(snr_db, abs=0.1)


def test_bundle_ids_are_stable_and_nonzero():
    a = {"method": "a-mijscc", "k": 65, "q": 8}
    assert bundle_id(a) == bundle_id(dict(reversed(list(a.items()))))
    assert bundle_id(a) != bundle_id({**a, "k": 66})
    assert all(1 <= bundle_id({"i": i}) <= 65535 for i in range(200))
