"""The over-the-air burst format and its streaming receiver (semcom_core.link.air), without GNU Radio.

Every fault is a counted drop with a reason, the images of the other bursts arrive, and
sent = delivered + dropped holds."""

from __future__ import annotations

import numpy as np
import pytest

from semcom_core.link.air import BURST_FORMAT_VERSION, BurstHeader, BurstLayout, BurstReceiver, modulate_burst
from semcom_core.link.air.header import decode_header, encode_header, encode_side_words, decode_side_words

LAYOUT = BurstLayout()
RNG = np.random.default_rng(7)


def _payloads(count, length, rng=RNG):
    return [((rng.standard_normal(length) + 1j * rng.standard_normal(length)) / np.sqrt(2)).astype(np.complex64)
            for _ in range(count)]


def _burst(seq, count, length=48, q=0, version=BURST_FORMAT_VERSION):
    payloads = _payloads(count, length)
    ranges = [(-2.0 - i, 1.5 + i) for i in range(count)] if q else None
    header = BurstHeader(bundle_id=11, seq=seq, count=count, length=length, end=length, q=q, version=version)
    return modulate_burst(LAYOUT, header, payloads, ranges), payloads


def _noise(n, snr_db, rng):
    sigma = LAYOUT.noise_voltage(snr_db)
    return (sigma / np.sqrt(2) * (rng.standard_normal(n) + 1j * rng.standard_normal(n))).astype(np.complex64)


def _receive(samples, chunk=5000, **kwargs):
    rx = BurstReceiver(LAYOUT, **kwargs)
    out = []
    for i in range(0, samples.size, chunk):
        out += rx.feed(samples[i: i + chunk])
    return out + rx.flush(), rx


def test_header_round_trip_and_corruption_is_detected():
    header = BurstHeader(bundle_id=300, seq=65535, count=200, length=4095, end=17, q=8)
    coded = encode_header(header)
    llr = 4.0 * (1.0 - 2.0 * coded)
    assert decode_header(llr)[0] == header
    llr[:20] *= -1                                 # 20 wrong bits: the LDPC code corrects them
    assert decode_header(llr)[0] == header
    noise = np.random.default_rng(0).standard_normal(coded.size)
    assert decode_header(noise)[0] == "header CRC failure"
    with pytest.raises(ValueError, match="end"):
        encode_header(BurstHeader(1, 0, 1, 10, 11, 0))


def test_side_words_carry_float16_ranges_and_fail_alone():
    ranges = [(-300.5 + i, 150.25 - i) for i in range(11)]          # two side words: 8 + 3 images
    coded = encode_side_words(ranges)
    llr = 4.0 * (1.0 - 2.0 * coded)
    got = decode_side_words(llr, 11)
    assert all(abs(a - x) <= abs(x) * 2 ** -10 and abs(b - y) <= abs(y) * 2 ** -10 for (a, b), (x, y) in zip(got, ranges))
    llr[:200] = -llr[:200]                                               # ruin the first word only
    got = decode_side_words(llr, 11)
    assert got[:8] == [None] * 8 and all(g is not None for g in got[8:])
    with pytest.raises(ValueError, match="float16"):
        encode_side_words([(-1e6, 1.0)])


@pytest.mark.parametrize("q", [0, 8])
def test_mixed_burst_sizes_back_to_back_without_gap_arrive_exactly(q):
    sizes = (1, 32, 5, 17, 2)
    parts, sent, seq, first = [], [], 0, {}
    for n in sizes:
        samples, payloads = _burst(seq, n, q=q)
        parts.append(samples)
        sent += payloads
        first.update({seq + i: i for i in range(n)})
        seq += n
    x = np.concatenate(parts)
    out, rx = _receive(x + _noise(x.size, 25.0, np.random.default_rng(1)))
    assert [o.tags["index"] for o in out] == list(range(sum(sizes)))
    assert rx.bursts == len(sizes) and rx.dropped == 0 and not rx.burst_failures
    for o in out:
        err = np.mean(np.abs(o.payload - sent[o.tags["index"]]) ** 2)
        assert err < 10 ** (-25 / 10) * 1.5 and abs(o.tags["snr_db"] - 25.0) < 1.0
        if q:
            i = first[o.tags["index"]]
            assert o.tags["q"] == 8 and o.tags["z_min"] == pytest.approx(-2.0 - i, rel=1e-3)
            assert o.tags["z_max"] == pytest.approx(1.5 + i, rel=1e-3)


def test_a_truncated_burst_loses_only_its_cut_images_and_the_next_burst_arrives():
    a, _ = _burst(0, 10)
    b, _ = _burst(10, 4)
    cut = LAYOUT.preamble_len + (LAYOUT.header_symbols + 4) * LAYOUT.symbol_len   # header + 4 payload symbols
    x = np.concatenate([np.zeros(200, np.complex64), a[:cut], b, np.zeros(300, np.complex64)])
    out, rx = _receive(x + _noise(x.size, 20.0, np.random.default_rng(2)))
    indices = [o.tags["index"] for o in out]
    # 48 symbols an image, 48 a payload OFDM symbol: the first four images lie before the cut
    assert indices == [0, 1, 2, 3, 10, 11, 12, 13]
    assert rx.drops == {"truncated burst": 6}
    assert len(out) + rx.dropped == 14


def test_a_burst_that_ends_in_silence_drops_its_missing_images():
    a, _ = _burst(0, 10)
    cut = LAYOUT.preamble_len + (LAYOUT.header_symbols + 3) * LAYOUT.symbol_len
    x = np.concatenate([a[:cut], np.zeros(4000, np.complex64)])
    out, rx = _receive(x + _noise(x.size, 20.0, np.random.default_rng(3)))
    assert [o.tags["index"] for o in out] == [0, 1, 2]
    assert rx.drops == {"no signal where the burst declared images": 7}


def test_an_over_long_burst_is_dropped_without_swallowing_the_next():
    big, _ = _burst(0, 200, length=100)                      # 20000 payload symbols
    small, _ = _burst(200, 3)
    x = np.concatenate([big, small, np.zeros(300, np.complex64)])
    out, rx = _receive(x + _noise(x.size, 20.0, np.random.default_rng(4)), max_burst_samples=8000)
    assert [o.tags["index"] for o in out] == [200, 201, 202]
    assert rx.drops == {"burst longer than the receiver accepts": 200}


def test_another_format_version_is_counted_and_dropped():
    old, _ = _burst(0, 6, version=BURST_FORMAT_VERSION + 1)
    new, _ = _burst(6, 2)
    x = np.concatenate([old, new, np.zeros(300, np.complex64)])
    out, rx = _receive(x + _noise(x.size, 20.0, np.random.default_rng(5)))
    assert [o.tags["index"] for o in out] == [6, 7]
    assert rx.drops == {"unknown burst version": 6}


def test_non_finite_samples_lose_only_the_images_they_touch():
    a, _ = _burst(0, 6)
    x = np.concatenate([a, np.zeros(300, np.complex64)])
    x = x + _noise(x.size, 20.0, np.random.default_rng(6))
    first_payload = LAYOUT.preamble_len + LAYOUT.header_symbols * LAYOUT.symbol_len
    x[first_payload + 2 * LAYOUT.symbol_len + 30] = np.nan                # inside image 2
    out, rx = _receive(x)
    assert [o.tags["index"] for o in out] == [0, 1, 3, 4, 5]
    assert rx.drops == {"non-finite samples": 1} and rx.bad_samples == 1


def test_ten_seconds_of_noise_at_one_megasample_produce_no_frames():
    rng = np.random.default_rng(8)
    rx = BurstReceiver(LAYOUT)
    for _ in range(100):
        block = ((rng.standard_normal(100_000) + 1j * rng.standard_normal(100_000)) / np.sqrt(2)).astype(np.complex64)
        assert rx.feed(block) == []
    assert rx.images == 0 and rx.bursts == 0 and rx.dropped == 0


@pytest.mark.parametrize("cfo", [-7.3, 3.6])
def test_acquisition_at_0_db_with_a_carrier_offset_of_several_subcarriers(cfo):
    rng = np.random.default_rng(9)
    parts, sent = [], []
    for b in range(20):
        samples, payloads = _burst(4 * b, 4)
        parts += [np.zeros(int(rng.integers(50, 400)), np.complex64), samples]
        sent += payloads
    x = np.concatenate(parts + [np.zeros(500, np.complex64)])
    x = x * np.exp(2j * np.pi * cfo / LAYOUT.fft_len * np.arange(x.size)).astype(np.complex64)
    out, rx = _receive(x + _noise(x.size, 0.0, rng))
    assert len(out) >= 78, (len(out), dict(rx.burst_failures))
    err = np.mean([np.mean(np.abs(o.payload - sent[o.tags["index"]]) ** 2) for o in out])
    assert err < 1.25, "the payload at 0 dB has noise variance 1; estimation may add a little"


def test_phase_noise_and_a_carrier_offset_cost_little():
    """Bursts of 32 images at 15 dB with Wiener phase noise (0.005 rad a sample, about 0.05 rad an OFDM
    symbol) and 1.3 subcarriers of carrier offset: every image arrives and the payload error stays within
    0.8 dB of the noise (0.6 dB on average over seeds). (A 20 ppm clock offset is in qa_ofdm, through GNU
    Radio's resampler.)"""
    rng = np.random.default_rng(10)
    parts, sent = [], []
    for b in range(4):
        samples, payloads = _burst(32 * b, 32)
        parts += [samples, np.zeros(100, np.complex64)]
        sent += payloads
    x = np.concatenate(parts + [np.zeros(500, np.complex64)])
    phase = np.cumsum(rng.normal(0.0, 0.005, x.size)) + 2 * np.pi * 1.3 / LAYOUT.fft_len * np.arange(x.size)
    x = (x * np.exp(1j * phase)).astype(np.complex64)
    out, rx = _receive(x + _noise(x.size, 15.0, rng))
    assert len(out) == 128 and rx.dropped == 0
    err = np.mean([np.mean(np.abs(o.payload - sent[o.tags["index"]]) ** 2) for o in out])
    assert 10 * np.log10(err) < -15.0 + 0.8, 10 * np.log10(err)
