"""The pre-training recipe of the multi-modal system: standardised features, projectors, warm-up, the linear
probe, the cluttered scenes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semcom_core.data.mfmsc.speech import cmvn
from semcom_core.data.registry import load_multimodal_dataset
from semcom_core.data.rgbd_scenes import make_rgbd_scenes
from semcom_core.methods.multimodal import FeatureProjection, MultiModalSystem, PretrainModule, _optimizer
from semcom_core.metrics.linear_probe import linear_probe_accuracy
from semcom_core.models.resnet18 import ResNet18Encoder
from semcom_core.runs.config import ConfigError, load_config


def test_feature_norm_removes_offset_and_scale_the_losses_leave_free():
    torch.manual_seed(0)
    enc = ResNet18Encoder(3, 16, width=4, feature_norm="batch")
    with torch.no_grad():
        enc.head.bias.fill_(300.0)           # what centred correlation losses allow to drift
        enc.head.weight.mul_(50.0)
    x = torch.rand(64, 3, 16, 16)
    z = enc(x)                               # training mode: standardised over the batch
    assert torch.allclose(z.mean(0), torch.zeros(16), atol=1e-4)
    assert torch.allclose(z.var(0, unbiased=False), torch.ones(16), atol=1e-2)
    plain = ResNet18Encoder(3, 16, width=4)
    assert isinstance(plain.feature_norm, torch.nn.Identity)
    with pytest.raises(ValueError, match="feature_norm"):
        ResNet18Encoder(3, 16, width=4, feature_norm="layer")


def test_projections_keep_the_shared_and_unique_blocks_apart():
    z = torch.randn(8, 12)
    proj = FeatureProjection(12, [32, 20], k_shared=8)
    out = proj(z)
    assert out.shape == (8, 40) and proj.loss_k_shared == 20
    # the shared projection sees only z[:, :8]: changing the unique block leaves the first 20 outputs alone
    proj.eval()
    z2 = z.clone()
    z2[:, 8:] += 5.0
    assert torch.allclose(proj(z)[:, :20], proj(z2)[:, :20])
    assert not torch.allclose(proj(z)[:, 20:], proj(z2)[:, 20:])
    assert FeatureProjection(12, [], k_shared=8)(z) is z
    assert FeatureProjection(12, [32, 16])(z).shape == (8, 16)


def test_pretraining_with_a_projector_runs_every_method_and_trains_the_projector():
    system = MultiModalSystem(["rgb", "depth"], k=8, num_classes=3, width=4, feature_norm="batch")
    base = load_config(None, {"model": {"k": 8}, "pretrain": {"k_shared": 6, "projector": [16, 16]}},
                       family="multimodal")["pretrain"]
    xs = [torch.rand(16, 3, 16, 16), torch.rand(16, 1, 16, 16)]
    for method in ("proposed", "simclr", "barlow_twins"):
        module = PretrainModule(system, {**base, "method": method}, None, total_steps=10)
        loss, _ = module.pretrain_loss(xs)
        loss.backward()
        assert torch.isfinite(loss)
        grads = [p.grad for p in module.projections.parameters()]
        assert grads and all(g is not None for g in grads)
        module.zero_grad()


def test_warmup_then_cosine():
    w = torch.nn.Parameter(torch.zeros(1))
    cfg = {"optimizer": "adam", "lr": 1.0, "weight_decay": 0.0, "momentum": 0.9, "warmup_steps": 4}
    opt = _optimizer([w], cfg, total_steps=14)
    lrs = []
    for _ in range(14):
        lrs.append(opt["optimizer"].param_groups[0]["lr"])
        opt["optimizer"].step()
        opt["lr_scheduler"]["scheduler"].step()
    assert lrs[0] == pytest.approx(0.2) and lrs[3] == pytest.approx(0.8)     # linear ramp over 4 steps
    assert lrs[4] == pytest.approx(1.0)                                       # then the cosine from the top
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:])) and lrs[-1] < 0.05


def test_linear_probe_separates_what_is_separable_and_not_noise():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(600) % 3
    centres = torch.randn(3, 5, generator=g) * 4
    x = centres[y] + torch.randn(600, 5, generator=g)
    assert linear_probe_accuracy(x[:400], y[:400], x[400:], y[400:]) > 0.95
    noise = torch.randn(600, 5, generator=g)
    assert linear_probe_accuracy(noise[:400], y[:400], noise[400:], y[400:]) < 0.5
    with pytest.raises(ValueError, match="NaN"):
        linear_probe_accuracy(torch.full((4, 2), float("nan")), y[:4], x[:4, :2], y[:4])
    with pytest.raises(ValueError, match="\\[N, D\\]"):
        linear_probe_accuracy(x[:4], y[:4], x[:4, :2], y[:4])


def test_cluttered_scenes_are_harder_and_deterministic():
    plain, cluttered = make_rgbd_scenes(200, seed=4), make_rgbd_scenes(200, seed=4, clutter=True)
    again = make_rgbd_scenes(200, seed=4, clutter=True)
    assert cluttered.name == "rgbd-scenes-cluttered" and plain.name == "rgbd-scenes"
    assert torch.equal(cluttered.arrays["rgb"], again.arrays["rgb"])
    assert torch.equal(plain.labels, cluttered.labels)
    # every scene has a near object (0.5-0.75 m, depth scaled by 10 m) that the plain scenes lack
    near = (cluttered.arrays["depth"] < 0.08).flatten(1).float().mean(1)
    assert float(near.min()) > 0.03 and float((plain.arrays["depth"] < 0.08).float().mean()) < 0.01
    # texture contrast is lower: the RGB images' spread per image shrinks
    spread = lambda d: d.arrays["rgb"].float().flatten(1).std(1).mean()  # noqa: E731
    assert spread(cluttered) < spread(plain)
    test = load_multimodal_dataset("rgbd-scenes-cluttered", "test", size=32, train_size=20, test_size=30, seed=1)
    assert len(test) == 30 and test.name == "rgbd-scenes-cluttered"


def test_config_refuses_unknown_feature_norm_and_bad_projector():
    with pytest.raises(ConfigError, match="feature_norm"):
        load_config(None, {"model": {"feature_norm": "layer"}}, family="multimodal")
    with pytest.raises(ConfigError, match="projector"):
        load_config(None, {"pretrain": {"projector": [0]}}, family="multimodal")


def test_cmvn_normalises_each_bin_over_the_utterance():
    rng = np.random.default_rng(0)
    feats = rng.normal(12.0, 3.0, (50, 40)).astype(np.float32) + np.linspace(0, 8, 40, dtype=np.float32)
    out = cmvn(feats)
    assert np.allclose(out.mean(0), 0, atol=1e-5) and np.allclose(out.std(0), 1, atol=1e-4)
    silent = np.full((10, 40), -15.94, np.float32)          # a constant bin stays finite (zero)
    assert np.all(cmvn(silent) == 0)
    with pytest.raises(ValueError, match="frames"):
        cmvn(np.zeros((0, 40)))
