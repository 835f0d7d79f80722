"""Frames with a header carrying the side information (semcom_core.symbols.framing)."""

from __future__ import annotations

import numpy as np
import pytest

from semcom_core.symbols import HEADER_SYMBOLS, FrameError, SideInfo, frame_symbols, parse_frame, parse_frames
from semcom_core.symbols import framing

K = 49


def _f32(x) -> float:
    return float(np.float32(x))


def _random_sides(rng, n, k=K):
    sides = []
    for i in range(n):
        q = (0, 4, 8)[i % 3]
        a, b = sorted(rng.normal(scale=rng.choice([1e-3, 1.0, 1e3]), size=2))
        if q == 0:
            a, b = 0.0, 0.0
        sides.append(SideInfo(q=q, end=int(rng.integers(0, k + 1)) if i > 1 else (0 if i == 0 else k),
                              z_min=_f32(a), z_max=_f32(b)))
    return sides


def _payload(rng, n):
    return ((rng.normal(size=n) + 1j * rng.normal(size=n)) / np.sqrt(2)).astype(np.complex64)


def _awgn(rng, x, snr_db):
    sigma = np.sqrt(10 ** (-snr_db / 10) / 2)
    return (x + sigma * (rng.normal(size=x.shape) + 1j * rng.normal(size=x.shape))).astype(np.complex64)


def test_header_size():
    # 92 info bits + CRC16 + 6 tail bits, rate 1/2, 2 bits per QPSK symbol
    assert framing.HEADER_BITS == 92
    assert HEADER_SYMBOLS == 114


def test_noiseless_round_trip_is_exact():
    rng = np.random.default_rng(1)
    sides = _random_sides(rng, 30)
    assert any(s.z_min < 0 for s in sides)
    payloads = [_payload(rng, s.end) for s in sides]
    frames = [frame_symbols(p, s) for p, s in zip(payloads, sides)]
    for frame, payload, side in zip(frames, payloads, sides):
        assert frame.dtype == np.complex64 and frame.shape == (HEADER_SYMBOLS + side.end,)
        np.testing.assert_allclose(np.mean(np.abs(frame[:HEADER_SYMBOLS]) ** 2), 1.0, rtol=1e-6)
        got_payload, got_side = parse_frame(frame)
        assert got_side == side   # floats bit-exact
        np.testing.assert_array_equal(got_payload, payload)
    # the batch parser agrees
    for (got_payload, got_side), side in zip(parse_frames(frames), sides):
        assert got_side == side and got_payload.size == side.end


def test_extreme_float_values_round_trip():
    side = SideInfo(q=8, end=3, z_min=-3.4028234663852886e38, z_max=1.401298464324817e-45)
    _, got = parse_frame(frame_symbols(np.zeros(3, np.complex64), side))
    assert got == side


def test_header_decodes_through_awgn_at_6_db():
    rng = np.random.default_rng(2)
    sides = _random_sides(rng, 60)
    frames = [_awgn(rng, frame_symbols(_payload(rng, s.end), s), 6.0) for s in sides]
    results = parse_frames(frames)
    assert all(not isinstance(r, FrameError) for r in results), [r for r in results if isinstance(r, FrameError)]
    assert [r[1] for r in results] == sides


def test_corrupted_headers_are_detected():
    rng = np.random.default_rng(3)
    side = SideInfo(q=8, end=K, z_min=_f32(-1.5), z_max=_f32(2.25))
    frame = frame_symbols(_payload(rng, K), side)
    # one flipped symbol is corrected by the convolutional code
    one = frame.copy()
    one[5] = -one[5]
    assert parse_frame(one)[1] == side
    # a header buried in noise (-6 dB) or replaced by random QPSK symbols is rejected
    bad = []
    for trial in range(20):
        noisy = _awgn(rng, frame, -6.0)
        bad.append(noisy)
        rnd = frame.copy()
        rnd[:HEADER_SYMBOLS] = (rng.choice([-1, 1], HEADER_SYMBOLS) + 1j * rng.choice([-1, 1], HEADER_SYMBOLS)) / np.sqrt(2)
        bad.append(rnd)
    results = parse_frames(bad)
    assert all(isinstance(r, FrameError) for r in results)
    assert {r.reason for r in results} <= {"header CRC failure", "unknown frame version", "payload length mismatch"}
    assert sum(r.reason == "header CRC failure" for r in results) >= 30


def test_corrupted_crc_is_detected():
    """A header whose CRC bits were altered before coding decodes cleanly but fails the CRC."""
    side = SideInfo(q=4, end=2, z_min=_f32(-1.0), z_max=_f32(1.0))
    coder = framing._get_coder()
    bits = framing._header_bits([side])
    import torch

    with torch.no_grad():
        with_crc = coder.crc_enc(torch.from_numpy(bits.astype(np.float32)))
        with_crc[0, -1] = 1 - with_crc[0, -1]          # flip the last CRC bit
        coded = coder.conv_enc(with_crc).numpy()
    frame = np.concatenate([framing._qpsk(coded)[0], np.zeros(2, np.complex64)])
    with pytest.raises(FrameError) as err:
        parse_frame(frame)
    assert err.value.reason == "header CRC failure"


def test_unknown_version_is_rejected(monkeypatch):
    side = SideInfo(q=0, end=1)
    monkeypatch.setattr(framing, "FORMAT_VERSION", 7)
    frame = frame_symbols(np.zeros(1, np.complex64), side)
    monkeypatch.setattr(framing, "FORMAT_VERSION", 1)
    with pytest.raises(FrameError) as err:
        parse_frame(frame)
    assert err.value.reason == "unknown frame version"


def test_truncated_and_length_mismatch():
    side = SideInfo(q=8, end=10, z_min=-1.0, z_max=1.0)
    frame = frame_symbols(np.ones(10, np.complex64), side)
    for cut in (0, 1, HEADER_SYMBOLS - 1):
        with pytest.raises(FrameError) as err:
            parse_frame(frame[:cut])
        assert err.value.reason == "truncated frame"
    for frame_bad in (frame[:-1], np.concatenate([frame, np.zeros(1, np.complex64)]), frame[:HEADER_SYMBOLS]):
        with pytest.raises(FrameError) as err:
            parse_frame(frame_bad)
        assert err.value.reason == "payload length mismatch"
    nan = frame.copy()
    nan[HEADER_SYMBOLS + 2] = np.nan
    with pytest.raises(FrameError) as err:
        parse_frame(nan)
    assert err.value.reason == "non-finite samples"
    assert isinstance(err.value, ValueError)


def test_frame_symbols_rejects_bad_input():
    with pytest.raises(ValueError, match="end"):
        frame_symbols(np.ones(3, np.complex64), SideInfo(q=8, end=4, z_min=0.0, z_max=1.0))
    with pytest.raises(ValueError):
        frame_symbols(np.ones(1, np.complex64), SideInfo(q=256, end=1))
    with pytest.raises(ValueError):
        frame_symbols(np.ones(0, np.complex64), SideInfo(q=8, end=0, z_min=0.0, z_max=float("nan")))
    with pytest.raises(ValueError):
        frame_symbols(np.ones(0, np.complex64), SideInfo(q=8, end=0, z_min=0.0, z_max=1e39))  # overflows float32
    with pytest.raises(ValueError):
        frame_symbols(np.full(1, np.nan, np.complex64), SideInfo(q=0, end=1))


def test_side_info_problem():
    ok = SideInfo(q=8, end=K, z_min=-1.0, z_max=1.0)
    assert ok.problem(K, 8) is None
    assert SideInfo(q=0, end=3).problem(K, None) is None
    assert "z_max" in SideInfo(q=8, end=3, z_min=1.0, z_max=1.0).problem(K, 8)
    assert "z_max" in SideInfo(q=8, end=3, z_min=2.0, z_max=1.0).problem(K, 8)
    assert SideInfo(q=8, end=K + 1, z_min=-1.0, z_max=1.0).problem(K, 8) is not None
    assert SideInfo(q=4, end=3, z_min=-1.0, z_max=1.0).problem(K, 8) is not None
    assert SideInfo(q=8, end=3, z_min=-1.0, z_max=1.0).problem(K, None) is not None
