"""One reconstruction with NaN does not poison an evaluation: figures over the valid images, the invalid
ones counted beside them."""

from __future__ import annotations

import torch

from semcom_core.bundles.evaluate import evaluate_models
from semcom_core.channels import make_channel
from semcom_core.metrics import psnr


class _Echo(torch.nn.Module):
    """Returns the input with a little noise, and NaN in image 2."""

    def forward(self, x, channel, snr_db):
        out = (x + 0.05 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
        out[2, 0, 0, 0] = float("nan")
        return out


def test_a_nan_reconstruction_is_counted_not_averaged():
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    labels = torch.zeros(6, dtype=torch.long)
    metrics = evaluate_models(_Echo(), None, make_channel("awgn"), 10.0, x, labels)
    assert metrics["invalid"] == 1 and metrics["accuracy"] is None
    expected = psnr(_Echo()(x, None, 10.0)[[0, 1, 3, 4, 5]], x[[0, 1, 3, 4, 5]]).double().mean().item()
    assert abs(metrics["psnr"] - expected) < 1e-6
