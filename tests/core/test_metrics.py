"""Metrics: PSNR, SSIM and accuracy."""

import pytest
import torch

from semcom_core.metrics import PSNR_MAX_DB, accuracy, psnr, ssim


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def smooth_images(batch=4, channels=1, size=32):
    """Images with structure (not white noise), values in [0, 1]."""
    y, x = torch.meshgrid(torch.linspace(0, 6, size), torch.linspace(0, 6, size), indexing="ij")
    phase = torch.rand(batch, channels, 1, 1, generator=gen())
    return 0.5 + 0.4 * torch.sin(x + 2 * torch.pi * phase) * torch.cos(y)


def test_psnr_known_values():
    x = torch.zeros(3, 1, 4, 4)
    y = torch.full((3, 1, 4, 4), 0.1)
    y[1] = 0.01  # MSE 1e-4 -> 40 dB
    y[2] = x[2]  # identical -> cap
    out = psnr(x, y)
    assert out.shape == (3,)
    assert torch.allclose(out, torch.tensor([20.0, 40.0, PSNR_MAX_DB]), atol=1e-4)


def test_psnr_data_range():
    x = torch.zeros(2, 3, 8, 8)
    y = torch.full((2, 3, 8, 8), 25.5)
    assert torch.allclose(psnr(x, y, data_range=255.0), torch.full((2,), 20.0), atol=1e-4)


def test_ssim_identical_is_one_and_drops_with_noise():
    x = smooth_images()
    assert torch.allclose(ssim(x, x), torch.ones(4), atol=1e-5)
    scores = []
    for sigma in (0.02, 0.1, 0.3):
        noisy = (x + sigma * torch.randn(x.shape, generator=gen(1))).clamp(0, 1)
        value = ssim(x, noisy)
        assert value.shape == (4,)
        scores.append(value)
    assert (scores[0] < 1).all() and (scores[0] > scores[1]).all() and (scores[1] > scores[2]).all()


def test_ssim_colour_and_symmetry():
    x = smooth_images(batch=2, channels=3)
    y = (x + 0.1 * torch.randn(x.shape, generator=gen(2))).clamp(0, 1)
    assert torch.allclose(ssim(x, y), ssim(y, x), atol=1e-6)


def test_accuracy_from_logits_and_predictions():
    logits = torch.tensor([[0.1, 2.0], [3.0, 0.0], [0.0, 1.0], [5.0, 1.0]])
    labels = torch.tensor([1, 0, 0, 0])
    assert accuracy(logits, labels) == pytest.approx(0.75)
    assert accuracy(torch.tensor([0, 1, 1, 0]), labels) == pytest.approx(0.25)
    assert isinstance(accuracy(logits, labels), float)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        psnr(torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 5))
    with pytest.raises(ValueError):
        ssim(torch.zeros(2, 1, 16, 16), torch.zeros(3, 1, 16, 16))
    with pytest.raises(ValueError):
        ssim(torch.zeros(2, 16, 16), torch.zeros(2, 16, 16))
    with pytest.raises(ValueError):
        accuracy(torch.zeros(4, 3), torch.zeros(5, dtype=torch.long))
