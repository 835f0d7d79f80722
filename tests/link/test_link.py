"""The link layer: one chain from latents to symbols and back, batched and framed, with SideInfo throughout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semcom_core.bundles import load_bundle, make_untrained_bundle
from semcom_core.channels import make_channel
from semcom_core.link import FrameError, SideInfo, Transceiver, batch_of, frames_of, transceiver_specs
from semcom_core.models import build_model
from semcom_core.units import db_to_linear, linear_to_db, noise_var_from_snr_db, snr_db_from_noise_var


def _transceiver(q=None, mask=False, seed=0):
    torch.manual_seed(seed)
    enc, dec, k = transceiver_specs((1, 28, 28), 1 / 12, 8, "mijscc")
    m = build_model({"arch": "adaptive_mask", "k": k, "eta": 1.2}) if mask else None
    return Transceiver(enc, dec, k, q, m).eval()


def _images(n, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).random((n, 1, 28, 28), dtype=np.float32))


@pytest.mark.parametrize("q", [None, 8])
def test_send_then_recover_without_noise_gives_the_codec_latent(q):
    t = _transceiver(q)
    with torch.no_grad():
        z = t.encoder(_images(6))
        sent = t.send(z)
        z_hat = t.recover(sent.symbols, sent.side)
    assert sent.symbols.shape == (6, t.k) and sent.side.end.tolist() == [t.k] * 6
    if q is None:   # unit power, and the receiver gets the power-normalised latent
        assert torch.allclose((sent.symbols.abs() ** 2).mean(1), torch.ones(6), atol=1e-4)
        assert torch.allclose(z_hat, z * (t.k ** 0.5) / z.norm(dim=1, keepdim=True), atol=1e-5)
    else:           # within half a quantisation step
        step = ((sent.side.z_max - sent.side.z_min) / 255).unsqueeze(1)
        assert bool(((z_hat - z).abs() <= step / 2 + 1e-5).all())


@pytest.mark.parametrize("q", [None, 8])
def test_the_mask_sends_a_prefix_at_unit_power_and_the_receiver_zero_fills(q):
    t = _transceiver(q, mask=True)
    with torch.no_grad():
        z = t.encoder(_images(8))
        sent = t.send(z, noise_var=torch.linspace(0.01, 1.0, 8))
        z_hat = t.recover(make_channel("awgn")(sent.symbols, 60.0), sent.side)
    end = sent.side.end
    assert end.shape == (8,) and bool(((0 <= end) & (end <= t.k)).all())
    past = torch.arange(t.k)[None] >= end[:, None]
    assert bool((sent.symbols[past] == 0).all()) and bool((z_hat[past.repeat_interleave(2, 1)] == 0).all())
    if q is None:   # unit average power over the symbols sent
        sent_rows = end > 0
        power = (sent.symbols.abs() ** 2).sum(1)[sent_rows] / end[sent_rows]
        assert torch.allclose(power, torch.ones_like(power), atol=1e-4)
    with pytest.raises(ValueError, match="noise variance"):
        t.send(z)     # the mask cannot decide without it


def test_with_codec_shares_the_networks():
    t = _transceiver(None)
    q8 = t.with_codec(8)
    assert q8.q == 8 and q8.codec.q == 8 and t.codec.q is None
    assert q8.encoder is t.encoder and q8.decoder is t.decoder
    assert t.with_codec(None) is t


def test_frames_round_trip_and_bad_frames_name_themselves():
    t = _transceiver(8, mask=True)
    with torch.no_grad():
        sent = t.send(t.encoder(_images(5)), noise_var=0.1)
    frames = frames_of(sent)
    assert [len(p) for p, _ in frames] == sent.side.end.tolist()
    y, side = batch_of(frames, t.k, 8)
    assert torch.equal(y, sent.symbols) and torch.equal(side.end, sent.side.end)
    assert torch.equal(side.z_min, sent.side.z_min) and torch.equal(side.z_max, sent.side.z_max)
    payload, info = frames[2]
    with pytest.raises(ValueError, match="frame 2: .*q=4"):
        batch_of(frames[:2] + [(payload, SideInfo(4, info.end, info.z_min, info.z_max))], t.k, 8)
    with pytest.raises(ValueError, match="frame 0: payload"):
        batch_of([(np.zeros(info.end + 1, np.complex64), info)], t.k, 8)


def test_bundle_framed_path_equals_the_batched_link():
    """What the GNU Radio blocks send and receive (frames) is exactly the training chain (batches)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        bundle = load_bundle(make_untrained_bundle(f"{folder}/b", q=8, method="a-mijscc"))
    x = _images(7, seed=2)
    with torch.no_grad():
        frames = bundle.transmit(x, noise_var=0.05)
        x_hat, _ = bundle.receive(frames)
        sent = bundle.transceiver.transmit(x, noise_var=0.05)
        direct = bundle.transceiver.receive(sent.symbols, sent.side)
    assert [int(s.end) for _, s in frames] == sent.side.end.tolist()
    np.testing.assert_allclose(x_hat, direct.numpy(), atol=1e-6)


def test_side_info_between_batches_rows_and_tags():
    batched = SideInfo(8, torch.tensor([3, 0, 65]), torch.tensor([-1.0, 0.0, -2.5]), torch.tensor([1.0, 1.0, 4.0]))
    rows = batched.rows()
    assert rows[0] == SideInfo(8, 3, -1.0, 1.0) and len(batched) == 3
    again = SideInfo.stack(rows)
    assert torch.equal(again.end, batched.end) and torch.equal(again.z_max, batched.z_max)
    assert SideInfo.from_tags(rows[2].to_tags()) == rows[2]
    assert SideInfo.from_tags({}, frame_length=17) == SideInfo(0, 17)              # untagged analog frame
    with pytest.raises(FrameError, match="missing side information"):
        SideInfo.from_tags({"q": [8], "end": [3], "z_min": [0.0]})
    with pytest.raises(FrameError, match="contradictory"):
        SideInfo.from_tags({"q": [8, 4], "end": [3], "z_min": [0.0], "z_max": [1.0]})
    with pytest.raises(FrameError, match="not a number"):
        SideInfo.from_tags({"q": 0, "end": "ten"})
    with pytest.raises(ValueError, match="share q"):
        SideInfo.stack([SideInfo(8, 3, 0.0, 1.0), SideInfo(4, 3, 0.0, 1.0)])


def test_training_and_deployment_take_the_same_path():
    t = _transceiver(8, mask=True)
    x = _images(4, seed=3)
    channel = make_channel("awgn", generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        s, x_hat = t.transmit_receive(x, channel, 80.0)
        sent = t.transmit(x, noise_var=noise_var_from_snr_db(80.0))
        direct = t.receive(sent.symbols, sent.side)
    assert torch.equal(s, sent.symbols)
    assert torch.allclose(x_hat, direct, atol=1e-5)


def test_decibel_conversions_agree_for_every_kind_of_number():
    for value in (20.0, np.array([0.0, 10.0]), torch.tensor([-3.0, 6.0])):
        back = linear_to_db(db_to_linear(value))
        assert np.allclose(np.asarray(back), np.asarray(value))
    assert noise_var_from_snr_db(10.0) == pytest.approx(0.1)
    assert snr_db_from_noise_var(0.01) == pytest.approx(20.0)
    assert isinstance(db_to_linear(torch.tensor([3.0])), torch.Tensor)
