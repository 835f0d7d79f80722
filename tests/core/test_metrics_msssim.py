"""MS-SSIM: torchmetrics' standard five scales where the image has room, fewer (renormalised) on small ones."""

import pytest
import torch

from semcom_core.metrics import ms_ssim, ssim
from semcom_core.metrics.image import ms_ssim_scales


def test_scales_follow_the_image_size():
    assert [ms_ssim_scales(n, n) for n in (16, 28, 32, 44, 88, 176, 256)] == [1, 2, 2, 3, 4, 5, 5]


def test_large_images_match_the_standard_definition():
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

    torch.manual_seed(0)
    x = torch.rand(2, 3, 192, 192)
    y = (x + 0.2 * torch.randn_like(x)).clamp(0, 1)
    standard = multiscale_structural_similarity_index_measure(y, x, data_range=1.0, reduction="none", normalize="relu")
    assert torch.allclose(ms_ssim(x, y), standard, atol=2e-4)


def test_small_images_identical_noisy_and_one_scale():
    torch.manual_seed(1)
    x = torch.rand(8, 1, 28, 28)
    assert torch.allclose(ms_ssim(x, x), torch.ones(8))
    noisy = (x + 0.3 * torch.randn_like(x)).clamp(0, 1)
    slightly = (x + 0.05 * torch.randn_like(x)).clamp(0, 1)
    assert bool((ms_ssim(x, noisy) < ms_ssim(x, slightly)).all())
    tiny = torch.rand(2, 1, 16, 16)            # one scale: SSIM itself
    other = (tiny + 0.1 * torch.randn_like(tiny)).clamp(0, 1)
    assert torch.allclose(ms_ssim(tiny, other), ssim(tiny, other).clamp_min(0), atol=1e-4)
    with pytest.raises(ValueError, match="shapes differ"):
        ms_ssim(x, x[:, :, :20])
