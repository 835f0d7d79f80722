"""The digital (SSCC) link: bit accounting, delivery, lost items, and the capacity bound."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from semcom_core.baselines.capacity import capacity_bits, capacity_budgets
from semcom_core.baselines.images import ImageLadders, evaluate_capacity, evaluate_link, image_metrics
from semcom_core.baselines.link import LENGTH_BITS, CodeChoice, DigitalLink, default_choices
from semcom_core.baselines.modulation import QAM, effective_noise_variance
from semcom_core.baselines.source import Encoded, make_source_codec
from semcom_core.channels import make_channel
from semcom_core.data import load_dataset
from semcom_core.metrics import psnr


@pytest.fixture(scope="module")
def images():
    data = load_dataset("fashion-mnist", "test")
    x, y = data.batch(range(40))
    return x, y


@pytest.fixture(scope="module")
def bpg_ladders(images):
    return ImageLadders(make_source_codec("bpg"), images[0], progress=False)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# -- modulation ----------------------------------------------------------------------------------
@pytest.mark.parametrize("order", [4, 16, 64])
def test_qam_round_trip_and_llr_sign(order):
    qam = QAM(order)
    bits = np.random.default_rng(order).integers(0, 2, size=(5, 60 * qam.bits_per_symbol), dtype=np.uint8)
    symbols = qam.modulate(bits)
    assert symbols.shape == (5, 60)
    assert abs(symbols.abs().square().mean().item() - 1.0) < 0.25   # unit average power
    out = make_channel("awgn").transmit(symbols, 40.0, _gen())
    llr = qam.llrs(out.y_eq, effective_noise_variance(out))
    assert np.array_equal((llr < 0).astype(np.uint8), bits)          # positive LLR means bit 0


def test_effective_noise_grows_in_a_fade():
    s = QAM(4).modulate(np.zeros((2, 8), dtype=np.uint8))
    out = make_channel("rayleigh", csi="ls", pilots=4).transmit(s, 10.0, _gen(1))
    var = effective_noise_variance(out, pilots=4)
    expected = out.noise_var * 1.25 / out.h_est.abs().square()
    assert torch.allclose(var[:, 0], expected[:, 0])


# -- planning and accounting ----------------------------------------------------------------------
def test_plan_counts_whole_codewords():
    link = DigitalLink(make_source_codec("bpg"), CodeChoice("wimax", "3/4", 64, 576))
    plan = link.plan(131)                           # 786 coded bits: one 576-bit codeword
    assert (plan.codewords, plan.symbols, plan.code.k) == (1, 96, 432)
    assert plan.budget_bits == 432 - LENGTH_BITS
    assert not link.plan(33).feasible               # 198 coded bits: no codeword fits
    two = link.plan(200)
    assert two.codewords == 2 and two.symbols == 192 <= 200


def test_nr_plan_fills_the_channel_uses():
    link = DigitalLink(make_source_codec("bpg"), CodeChoice("nr", "1/2", 16))
    plan = link.plan(65)
    assert plan.code.n == 260 and plan.code.k == 130 and plan.symbols == 65


def test_budget_is_never_exceeded(bpg_ladders):
    for choice in default_choices("wimax", 576):
        link = DigitalLink(bpg_ladders.codec, choice)
        for k in (33, 66, 131, 262, 392):
            plan = link.plan(k)
            for enc in link.choose(bpg_ladders.ladders, plan):
                if enc is not None:
                    assert enc.bits <= plan.budget_bits
                    assert LENGTH_BITS + 8 * len(enc.payload) <= plan.codewords * plan.code.k


# -- delivery and loss ----------------------------------------------------------------------------
def test_high_snr_delivers_the_source_decoded_images(images, bpg_ladders):
    link = DigitalLink(bpg_ladders.codec, CodeChoice("wimax", "1/2", 64, 576))
    plan = link.plan(392)
    encoded = link.choose(bpg_ladders.ladders, plan)
    assert all(e is not None for e in encoded)
    received, stats = link.send(encoded, make_channel("awgn"), 30.0, 392, _gen())
    assert stats.delivered == len(encoded) and stats.channel_failures == 0
    for got, enc in zip(received, encoded):
        assert np.array_equal(got, bpg_ladders.codec.decode(enc.payload, enc.meta))


def test_low_snr_loses_images_and_counts_them(bpg_ladders):
    link = DigitalLink(bpg_ladders.codec, CodeChoice("wimax", "3/4", 64, 576))
    plan = link.plan(392)
    encoded = link.choose(bpg_ladders.ladders, plan)
    received, stats = link.send(encoded, make_channel("awgn"), 3.0, 392, _gen())
    assert all(r is None for r in received)
    assert stats.channel_failures + stats.infeasible == stats.sent == len(encoded)


def test_infeasible_items_are_counted_not_sent(bpg_ladders):
    link = DigitalLink(bpg_ladders.codec, CodeChoice("wimax", "1/2", 4, 576))
    received, stats = link.send(link.choose(bpg_ladders.ladders, link.plan(131)), make_channel("awgn"), 30.0, 131)
    assert stats.infeasible == stats.sent and all(r is None for r in received)


def test_nan_and_wrong_length_llrs_are_counted_failures(bpg_ladders):
    link = DigitalLink(bpg_ladders.codec, CodeChoice("wimax", "1/2", 64, 576))
    plan = link.plan(392)
    tx = link.transmit(link.choose(bpg_ladders.ladders[:4], plan), plan)
    llr = link.qam.llrs(tx.symbols, 1e-3)
    llr[1, 10] = np.nan
    payloads, stats = link.decode_llrs(llr, tx)
    assert payloads[1] is None and all(p is not None for i, p in enumerate(payloads) if i != 1)
    assert stats.channel_failures == 1
    payloads, stats = link.decode_llrs(llr[:, :-3], tx)
    assert all(p is None for p in payloads) and stats.channel_failures == 4


def test_corrupted_bitstream_is_a_counted_source_failure(bpg_ladders):
    link = DigitalLink(bpg_ladders.codec, CodeChoice("wimax", "1/2", 64, 576))
    plan = link.plan(392)
    good = link.choose(bpg_ladders.ladders[:6], plan)
    rng = np.random.default_rng(0)
    bad = [Encoded(bytes(rng.integers(0, 256, len(e.payload), dtype=np.uint8)), e.bits, e.quality, e.meta)
           for e in good]
    received, stats = link.send(bad, make_channel("awgn"), 30.0, 392, _gen())
    assert stats.channel_failures == 0
    assert stats.source_failures == sum(r is None for r in received) >= 1
    assert stats.delivered + stats.source_failures == len(bad)


def test_lost_images_take_the_fallback(images):
    x, y = images
    fallback = x.mean(dim=0)
    near = [0.9 * x[1], 0.9 * x[3]]
    metrics = image_metrics(x[:4], y[:4], [None, near[0].numpy(), None, near[1].numpy()], fallback)
    assert metrics["delivered"] == 0.5
    shown = torch.stack([fallback, near[0], fallback, near[1]])
    assert metrics["psnr"] == pytest.approx(psnr(shown, x[:4]).mean().item(), abs=1e-4)


# -- the capacity bound ----------------------------------------------------------------------------
def test_capacity_bits_is_shannon():
    assert capacity_bits(100, 0.0) == 100
    assert capacity_bits(10, 20.0) == math.floor(10 * math.log2(101))
    budgets = capacity_budgets(make_channel("awgn"), 3, 50, 10.0)
    assert (budgets == math.floor(50 * math.log2(11)) - LENGTH_BITS).all()
    fading = capacity_budgets(make_channel("rayleigh"), 200, 50, 10.0, _gen(3))
    assert fading.std() > 0 and fading.mean() < math.floor(50 * math.log2(11))   # Jensen


@pytest.mark.parametrize("channel", ["awgn", "rayleigh"])
def test_no_practical_pair_beats_the_capacity_bound(images, bpg_ladders, channel):
    x, y = images
    fallback = x.mean(dim=0)
    for snr in (5.0, 20.0):
        for k in (131, 392):
            bound = evaluate_capacity(bpg_ladders, y, fallback, None, make_channel(channel), snr, k, _gen())
            for choice in default_choices("wimax", 576):
                m = evaluate_link(DigitalLink(bpg_ladders.codec, choice), bpg_ladders, y, fallback, None,
                                  make_channel(channel), snr, k, _gen())
                assert m["psnr"] <= bound["psnr"] + 1e-6, (choice, snr, k)
                assert m["delivered"] <= bound["delivered"] + 1e-9, (choice, snr, k)


# -- the MFMSC paper's other links: UTF-8 + turbo, 16-bit PCM + LDPC, H.264 + LDPC -------------------
def _through(codec_name, item, choice, channel_uses, snr_db, **codec_kw):
    codec = make_source_codec(codec_name, **codec_kw)
    link = DigitalLink(codec, choice)
    encoded = link.choose([codec.ladder(item)], link.plan(channel_uses))
    received, stats = link.send(encoded, make_channel("awgn"), snr_db, channel_uses, _gen())
    return received[0], stats, encoded[0]


def test_text_over_turbo():
    text = "Semantic symbols are not bits; a turbo code carries these ones exactly. ünïcödé"
    choice = CodeChoice("turbo", "1/3", 16)
    got, stats, enc = _through("utf8", text, choice, 600, 20.0)
    assert got == text and stats.delivered == 1 and enc.bits == 8 * len(text.encode())
    lost, stats, _ = _through("utf8", text, choice, 600, -5.0)
    assert lost is None and stats.channel_failures == 1
    assert _through("utf8", text, choice, 100, 20.0)[1].infeasible == 1     # does not fit


def test_speech_over_ldpc():
    t = np.arange(400) / 8000.0
    wave = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    got, stats, _ = _through("pcm16", wave, CodeChoice("wimax", "1/2", 64, 576), 2400, 25.0, sample_rate=8000)
    assert stats.delivered == 1 and np.max(np.abs(got - wave)) <= 1.0 / 32767 + 1e-6


def test_video_over_ldpc(images):
    x = images[0][0]
    clip = torch.stack([torch.roll(x, shifts=2 * t, dims=2) for t in range(6)]).numpy()   # [T, 1, 28, 28]
    got, stats, enc = _through("h264", clip, CodeChoice("wimax", "1/2", 64, 576), 1200, 25.0)
    assert stats.delivered == 1 and got.shape == clip.shape
    assert psnr(torch.as_tensor(got), torch.as_tensor(clip)).mean() > 20.0
    assert enc.bits <= DigitalLink(make_source_codec("h264"), CodeChoice("wimax", "1/2", 64, 576)).plan(1200).budget_bits


def test_block_counts_give_bler_and_the_raw_bit_errors_of_the_decoded_codewords():
    """Codewords whose LLRs carry a known number of flipped hard decisions decode (the code corrects
    them) and count exactly those flips; a codeword drowned in noise fails and counts as a block error,
    its bits left out of the raw BER."""
    from semcom_core.baselines.codes import make_code
    from semcom_core.baselines.link import block_counts

    code = make_code({"family": "wimax", "rate": "1/2", "n": 576})
    rng = np.random.default_rng(0)
    info = rng.integers(0, 2, (2, 3, code.k), dtype=np.uint8)
    codewords = code.encode(info.reshape(6, code.k)).reshape(2, 3, code.n)
    llr = np.where(codewords == 0, 4.0, -4.0).astype(np.float32)
    flips = {(0, 0): 0, (0, 1): 3, (0, 2): 7, (1, 0): 5}
    for (frame, block), count in flips.items():
        llr[frame, block, rng.choice(code.n, count, replace=False)] *= -0.5      # wrong, but less sure
    llr[1, 1] = rng.normal(0, 1, code.n)                                        # no information left
    llr[1, 2] = rng.normal(0, 1, code.n)
    result = code.decode(llr.reshape(6, code.n))
    counts = block_counts(code, llr, result)
    assert counts[0] == {"code_blocks": 3, "block_errors": 0, "coded_bits": 3 * code.n, "bit_errors": 10}
    assert counts[1] == {"code_blocks": 3, "block_errors": 2, "coded_bits": code.n, "bit_errors": 5}
