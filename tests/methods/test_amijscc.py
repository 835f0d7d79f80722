"""A-MIJSCC method, framed transmission through bundles, latent classifiers, and the experiment command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from semcom_core.bundles import load_bundle, make_untrained_bundle
from semcom_core.channels import make_channel
from semcom_core.runs.config import ConfigError, load_config
from semcom_core.methods import AMIJSCC, MIJSCC
from semcom_core.methods.latent_classifier import knn_predict, labelled_subset, train_latent_classifier
from semcom_core.symbols import SymbolCodec
from semcom_core.symbols.codec import prefix_mask
from semcom_core.symbols.sideinfo import SideInfo
from semcom_core.runs.image import train_run

REPO = Path(__file__).resolve().parents[2]


def _amijscc(q=8, eta=1.2, attention=True):
    torch.manual_seed(0)
    return AMIJSCC((1, 28, 28), 1 / 12, width=8, q=q, train_snr_db=(6, 21),
                   loss={"eta": eta, "attention": attention, "disc_hidden": 16})


def test_amijscc_loss_reports_gamma_and_zero_fills_the_unsent_tail():
    m = _amijscc()
    x = torch.rand(8, 1, 28, 28)
    loss, parts = m.training_loss(x, torch.zeros(8, dtype=torch.long))
    loss.backward()
    assert torch.isfinite(loss) and 0 <= float(parts["gamma"]) <= 1
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.transceiver.mask.noise_encoder.parameters())
    m.eval()
    with torch.no_grad():
        for snr in (0.0, 12.0, 30.0):
            z_hat, gamma = m.received_latent(x, snr)
            end = torch.round(gamma * m.transceiver.k).long()
            for row, e in zip(z_hat, end):
                assert torch.all(row[2 * e:] == 0)   # the receiver zero-fills what was not sent


def test_amijscc_sends_fewer_symbols_on_a_better_channel():
    m = _amijscc(eta=2.0).eval()
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        gammas = [float(m.received_latent(x, float(s))[1].mean()) for s in (0, 6, 12, 18, 24, 30)]
    assert all(a >= b for a, b in zip(gammas, gammas[1:])) and gammas[0] > gammas[-1]


def test_masked_analog_symbols_keep_unit_power_per_sent_symbol():
    codec = SymbolCodec(None)
    z = torch.randn(16, 130)
    end = torch.randint(1, 66, (16,))
    z = z * torch.arange(65).repeat_interleave(2).lt(end[:, None].repeat_interleave(130, 1)[:, :130] // 1).float()
    s, side = codec.to_symbols(z, prefix_mask(end, 65))
    assert torch.equal(side.end, end)
    power = (s.abs() ** 2).sum(1) / end
    assert torch.allclose(power, torch.ones(16), atol=1e-4)
    y = codec.from_symbols(make_channel("awgn")(s, 40.0), side)
    assert torch.all(y[torch.arange(130)[None] >= 2 * end[:, None]] == 0)


def test_four_bit_symbols_use_at_most_16_levels_per_real_dimension():
    s, side = SymbolCodec(4).to_symbols(torch.randn(64, 130) * 3)
    assert len(torch.unique(s.real)) <= 16 and len(torch.unique(s.imag)) <= 16
    assert len(torch.unique(s.real)) > 8   # a spread latent does use the levels


@pytest.mark.parametrize("method,q", [("a-mijscc", 8), ("mijscc", 4), ("mijscc", None)])
def test_bundle_transmit_receive_round_trip(tmp_path, method, q):
    bundle = load_bundle(make_untrained_bundle(tmp_path / "b", q=q, method=method))
    x = torch.rand(5, 1, 28, 28)
    frames = bundle.transmit(x, noise_var=0.05)
    assert len(frames) == 5
    for payload, info in frames:
        assert payload.dtype == np.complex64 and payload.shape == (info.end,)
        assert info.problem(bundle.k, q) is None and info.q == (q or 0)
    images, pred = bundle.receive(frames)
    assert images.shape == (5, 1, 28, 28) and np.isfinite(images).all() and pred.shape == (5,)
    again, pred2 = bundle.receive(frames)   # deterministic receiver
    assert np.array_equal(images, again) and np.array_equal(pred, pred2)


def test_bundle_symbols_per_image_follow_the_noise(tmp_path):
    bundle = load_bundle(make_untrained_bundle(tmp_path / "b", q=8, method="a-mijscc", eta=2.0))
    assert bundle.adaptive
    x = torch.rand(3, 1, 28, 28)
    ends = [frames[0][1].end for frames in (bundle.transmit(x, noise_var=v) for v in (1.0, 0.1, 0.01, 0.001))]
    assert ends == sorted(ends, reverse=True) and ends[0] > ends[-1]
    assert all(f[1].end == bundle.k for f in bundle.transmit(x, noise_var=0.001, adaptive=False))


def test_bundle_refuses_side_information_that_contradicts_it(tmp_path):
    bundle = load_bundle(make_untrained_bundle(tmp_path / "b", q=8, method="a-mijscc"))
    payload, info = bundle.transmit(torch.rand(1, 1, 28, 28), noise_var=0.05)[0]
    bad = [SideInfo(8, info.end, 1.0, 1.0), SideInfo(8, info.end, 2.0, 1.0), SideInfo(4, info.end, 0.0, 1.0),
           SideInfo(8, bundle.k + 1, 0.0, 1.0), SideInfo(8, info.end, float("nan"), 1.0)]
    for side in bad:
        assert side.problem(bundle.k, 8)
        with pytest.raises(ValueError):
            bundle.receive([(payload if side.end == info.end else np.zeros(side.end, np.complex64), side)])
    with pytest.raises(ValueError, match="payload"):
        bundle.receive([(payload[:-1], info)])


def test_knn_and_latent_mlp_classify_separable_latents():
    torch.manual_seed(0)
    centres = torch.randn(4, 20) * 4
    labels = torch.arange(4).repeat(200)
    z = centres[labels] + torch.randn(800, 20)
    assert (knn_predict(z[:600], labels[:600], z[600:], k=5) == labels[600:]).float().mean() > 0.95
    idx = labelled_subset(labels[:600], 0.1)
    assert len(idx) == 60 and torch.bincount(labels[idx]).tolist() == [15] * 4
    noisy = lambda zb, snr: zb + torch.randn_like(zb) * 10 ** (-snr[:, None] / 20)  # noqa: E731
    mlp = train_latent_classifier(noisy, z[:600], labels[:600], (6, 21), 4, epochs=10, hidden=32)
    with torch.no_grad():
        assert (mlp(z[600:]).argmax(1) == labels[600:]).float().mean() > 0.95
    with pytest.raises(ValueError):
        labelled_subset(labels, 0.0)


def test_amijscc_fine_tunes_from_a_mijscc_run(tmp_path):
    small = {"dataset": {"train_size": 256, "val_size": 64}, "model": {"width": 8}, "loss": {"disc_hidden": 16},
             "trainer": {"max_epochs": 1, "limit_train_batches": 2, "batch_size": 32, "progress_bar": False},
             "classifier": {"depth": 8, "max_epochs": 1, "batch_size": 64}}
    base = train_run(load_config(REPO / "configs/mijscc/fmnist/mijscc.yaml", small), tmp_path / "mijscc")
    assert (base / "method.safetensors").is_file()
    with pytest.raises(ConfigError, match="method.safetensors"):
        load_config(REPO / "configs/mijscc/fmnist/a-mijscc.yaml", small, {"init_from": str(tmp_path)})
    cfg = load_config(REPO / "configs/mijscc/fmnist/a-mijscc.yaml", small,
                      {"init_from": str(base), "classifier": {"checkpoint": str(base / "classifier.safetensors")}})
    run_dir = train_run(cfg, tmp_path / "a")
    run = json.loads((run_dir / "run.json").read_text())
    assert run["method"] == "a-mijscc" and 0 <= run["metrics"]["val/gamma"] <= 1
    from safetensors.torch import load_file

    before, after = load_file(str(base / "method.safetensors")), load_file(str(run_dir / "method.safetensors"))
    assert any(k.startswith("transceiver.mask.") for k in after) and not any("mask." in k for k in before)
    assert isinstance(MIJSCC, type)


SHIPPED = REPO / "bundles" / "a-mijscc-fmnist-8bit"


@pytest.mark.skipif(not SHIPPED.is_dir(), reason="the shipped A-MIJSCC bundle is not in this checkout")
def test_shipped_amijscc_bundle_through_frames_over_awgn():
    from semcom_core.data import load_dataset
    from semcom_core.metrics import psnr
    from semcom_core.symbols import frame_symbols, parse_frames

    bundle = load_bundle(SHIPPED, method="a-mijscc")
    assert bundle.adaptive and bundle.q == 8 and bundle.k == 65
    images, labels = load_dataset("fashion-mnist", "test").batch(range(300))
    rng = np.random.default_rng(0)
    results = {}
    for snr in (6.0, 21.0):
        noise_var = 10 ** (-snr / 10)
        sent = [frame_symbols(p, info) for p, info in bundle.transmit(images, noise_var=noise_var)]
        noisy = [f + np.sqrt(noise_var / 2) * (rng.standard_normal(len(f)) + 1j * rng.standard_normal(len(f)))
                 for f in sent]
        frames = parse_frames(noisy)
        assert all(not isinstance(f, Exception) for f in frames)   # the headers decode at 6 dB and above
        x_hat, pred = bundle.receive(frames)
        results[snr] = (float(psnr(torch.from_numpy(x_hat), images).mean()),
                        float((torch.from_numpy(pred) == labels).float().mean()),
                        np.mean([info.end for _, info in frames]))
    (p6, a6, s6), (p21, a21, s21) = results[6.0], results[21.0]
    assert s21 < s6 <= 65                      # fewer symbols on the better channel
    assert p21 > 18.0 and a21 > 0.75 and a6 > 0.7 and p6 > 16.5, results
    card = json.loads((SHIPPED / "card.json").read_text())
    assert card["method"] == "a-mijscc" and card["metrics"]["measured_through"] == "Bundle.transmit/receive"
