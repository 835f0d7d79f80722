"""The OFDM frame layout, its pilot-aided equaliser and the PHY header (semcom_core, no GNU Radio)."""

from __future__ import annotations

import numpy as np
import pytest

from semcom_core.symbols import FrameError, SideInfo
from semcom_core.symbols.ofdm import OfdmLayout
from semcom_core.symbols.phy_header import (PHY_HEADER_SYMBOLS, PhyHeader, bundle_id, decode_phy_headers,
                                            encode_phy_headers)


def test_layout_of_64_subcarriers_is_the_80211a_pattern():
    lay = OfdmLayout()
    assert lay.pilot_carriers == (-21, -7, 7, 21) and lay.n_data == 48 and lay.n_used == 52
    assert 0 not in lay.data_carriers and set(lay.data_carriers).isdisjoint(lay.pilot_carriers)
    assert lay.header_ofdm_symbols == -(-PHY_HEADER_SYMBOLS // 48) == 7
    assert lay.frame_samples(65) == (2 + 7 + 2) * 80 and lay.payload_ofdm_symbols(0) == 1


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


def _received(lay, data, h, noise_std, phases, rng):
    """FFT vectors of OFDM symbols carrying ``data`` through channel ``h`` with a phase per symbol."""
    s = data.shape[0]
    v = np.zeros((s, lay.fft_len), np.complex64)
    v[:, lay.shifted(lay.data_carriers)] = data
    v[:, lay.shifted(lay.pilot_carriers)] = np.asarray(lay.pilot_symbols)
    v = v * h[None, :] * np.exp(1j * np.asarray(phases))[:, None]
    return (v + noise_std * (rng.standard_normal(v.shape) + 1j * rng.standard_normal(v.shape)) / np.sqrt(2)).astype(
        np.complex64)


def test_equalise_removes_channel_and_common_phase_and_estimates_the_noise():
    lay = OfdmLayout()
    rng = np.random.default_rng(1)
    h = (rng.standard_normal(64) + 1j * rng.standard_normal(64)).astype(np.complex64) + 2
    data = ((rng.standard_normal((400, 48)) + 1j * rng.standard_normal((400, 48))) / np.sqrt(2)).astype(np.complex64)
    noise_std = 0.05
    v = _received(lay, data, h, noise_std, rng.uniform(-0.5, 0.5, 400), rng)
    out, noise_var, n_pilots = lay.equalise(v, h)
    assert n_pilots == 400 * 4 and out.shape == (400 * 48,)
    true_nv = np.mean(np.abs(out - data.reshape(-1)) ** 2)
    assert true_nv < 2 * noise_std ** 2 / np.min(np.abs(h) ** 2)   # phases gone, only noise left
    expected = np.mean(noise_std ** 2 / np.abs(h[lay.shifted(lay.pilot_carriers)]) ** 2)
    assert noise_var == pytest.approx(expected, rel=0.15)


def test_equalise_follows_an_integer_carrier_offset():
    lay = OfdmLayout()
    rng = np.random.default_rng(2)
    data = np.exp(1j * rng.uniform(0, 6.28, (3, 48))).astype(np.complex64)
    v = _received(lay, data, np.ones(64, np.complex64), 0.0, [0, 0, 0], rng)
    moved = np.roll(v, 2, axis=1)                  # subcarrier k arrives at k + 2
    out, _, _ = lay.equalise(moved, np.ones(64, np.complex64), carrier_offset=2)
    assert np.allclose(out, data.reshape(-1), atol=1e-5)
    with pytest.raises(ValueError):
        lay.equalise(v[:, :32], np.ones(64))


def test_estimate_channel_from_known_symbols_beats_a_single_symbol():
    lay = OfdmLayout()
    rng = np.random.default_rng(3)
    h = (rng.standard_normal(64) + 1j * rng.standard_normal(64)).astype(np.complex64) + 1.5
    known = rng.choice([-1.0, 1.0], (7, 48)).astype(np.complex64)
    noise_std = 0.2
    v = _received(lay, known, h, noise_std, rng.uniform(-1, 1, 7), rng)
    taps, noise_var = lay.estimate_channel(v, known)
    used = lay.shifted(lay.data_carriers + lay.pilot_carriers)
    # the estimate carries the first symbol's phase; compare after removing one common phase
    ratio = taps[used] / h[used]
    err = np.mean(np.abs(ratio / np.exp(1j * np.angle(ratio.mean())) - 1) ** 2 * np.abs(h[used]) ** 2)
    assert err < noise_std ** 2 / 3, "seven symbols average the noise down"
    expected = np.mean(noise_std ** 2 / np.abs(h[lay.shifted(lay.data_carriers)]) ** 2)
    assert noise_var == pytest.approx(expected, rel=0.25)
    with pytest.raises(ValueError):
        lay.estimate_channel(v[:1], known[:1])


def _header(seq=7, q=8, end=50, length=50):
    return PhyHeader(bundle_id=513, seq=seq, length=length, side=SideInfo(q=q, end=end, z_min=-1.25, z_max=3.5))


def test_phy_header_round_trip_through_noise():
    headers = [_header(seq=i, end=i, length=max(i, 1)) for i in range(5)]
    bpsk = encode_phy_headers(headers)
    assert bpsk.shape == (5, PHY_HEADER_SYMBOLS) and set(np.unique(bpsk)) == {-1.0, 1.0}
    rng = np.random.default_rng(0)
    noisy = bpsk + 0.35 * rng.standard_normal(bpsk.shape)       # 9 dB per symbol, 12 dB per combined bit
    padded = np.concatenate([noisy, np.ones((5, 12))], axis=1).astype(np.complex64)
    assert decode_phy_headers(padded) == headers


def test_phy_header_errors_are_detected():
    bpsk = encode_phy_headers([_header()] * 3).astype(np.complex64)
    bpsk[0, :3] = -bpsk[0, :3]                                  # three bits wrong in both copies
    bpsk[0, 156:159] = -bpsk[0, 156:159]
    bpsk[1, 5] = np.nan
    out = decode_phy_headers(bpsk)
    assert isinstance(out[0], FrameError) and out[0].reason == "header CRC failure"
    assert isinstance(out[1], FrameError) and out[1].reason == "non-finite samples"
    assert out[2] == _header()
    with pytest.raises(ValueError):
        decode_phy_headers(bpsk[:, :100])
    with pytest.raises(ValueError, match="seq"):
        encode_phy_headers([_header(seq=70000)])
    with pytest.raises(ValueError, match="q="):
        encode_phy_headers([_header(q=300)])


def test_header_padding_is_known_and_header_symbols_have_no_high_peak():
    lay = OfdmLayout()
    a = encode_phy_headers([_header(seq=1)], lay.header_slots)
    b = encode_phy_headers([_header(seq=2)], lay.header_slots)
    assert a.shape == (1, lay.header_slots) and np.array_equal(a[0, PHY_HEADER_SYMBOLS:], b[0, PHY_HEADER_SYMBOLS:])
    # whitening: a header of all-zero fields still gives mixed symbols, so OFDM peaks stay moderate
    zero = encode_phy_headers([PhyHeader(0, 0, 0, SideInfo(0, 0))], lay.header_slots)[0].reshape(7, 48)
    grid = np.zeros((7, 64), np.complex64)
    grid[:, lay.shifted(lay.data_carriers)] = zero
    grid[:, lay.shifted(lay.pilot_carriers)] = lay.pilot_symbols
    time = np.fft.ifft(np.fft.ifftshift(grid, axes=1), axis=1)
    papr = np.max(np.abs(time) ** 2, axis=1) / np.mean(np.abs(time) ** 2, axis=1)
    assert np.all(10 * np.log10(papr) < 12), papr
    with pytest.raises(ValueError, match="slots"):
        encode_phy_headers([_header()], 100)


def test_bundle_ids_are_stable_and_nonzero():
    a = {"method": "a-mijscc", "k": 65, "q": 8}
    assert bundle_id(a) == bundle_id(dict(reversed(list(a.items()))))
    assert bundle_id(a) != bundle_id({**a, "k": 66})
    assert all(1 <= bundle_id({"i": i}) <= 65535 for i in range(200))
