"""Per-sample image quality and classification metrics."""

from __future__ import annotations

import torch

__all__ = ["psnr", "ssim", "ms_ssim", "ms_ssim_scales", "accuracy", "PSNR_MAX_DB"]

#: The scale weights of multi-scale SSIM (Wang, Simoncelli and Bovik 2003), finest first.
MS_SSIM_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)

PSNR_MAX_DB = 100.0
"""PSNR reported for (near-)identical images, instead of infinity."""


def _check_pair(x: torch.Tensor, y: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise ValueError(f"{name} expects two tensors")
    if x.shape != y.shape:
        raise ValueError(f"{name}: shapes differ, {tuple(x.shape)} vs {tuple(y.shape)}")
    if x.dim() < 2:
        raise ValueError(f"{name} expects batched images [B, ...], got shape {tuple(x.shape)}")


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio per sample in dB, shape ``[B]``.

    ``10 log10(data_range^2 / MSE)`` with the MSE over all but the first
    dimension, capped at :data:`PSNR_MAX_DB` (so identical images give 100 dB).
    """
    _check_pair(x, y, "psnr")
    mse = (x.detach().double() - y.detach().double()).square().reshape(x.shape[0], -1).mean(dim=1)
    peak = float(data_range) ** 2
    mse = mse.clamp_min(peak * 10 ** (-PSNR_MAX_DB / 10))
    return (10 * torch.log10(peak / mse)).float()


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Structural similarity per sample, shape ``[B]``, for images ``[B, C, H, W]``.

    Gaussian window (11 x 11, sigma 1.5), averaged over channels and pixels;
    computed by torchmetrics.
    """
    from torchmetrics.functional.image import structural_similarity_index_measure

    _check_pair(x, y, "ssim")
    if x.dim() != 4:
        raise ValueError(f"ssim expects images [B, C, H, W], got shape {tuple(x.shape)}")
    value = structural_similarity_index_measure(
        y.detach().float(), x.detach().float(), data_range=float(data_range), reduction="none"
    )
    return value.reshape(x.shape[0])


def ms_ssim_scales(height: int, width: int, window: int = 11) -> int:
    """How many of the 5 scales an image of this size has room for: the coarsest must still hold the
    11-pixel window (28x28 and 32x32 images: 2; 256x256: 5)."""
    scales = 1
    while scales < len(MS_SSIM_BETAS) and min(height, width) // 2 ** scales > window - 1:
        scales += 1
    return scales


def ms_ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Multi-scale SSIM per sample, shape ``[B]``, for images ``[B, C, H, W]``, computed by torchmetrics.

    Small images cannot be halved five times under an 11-pixel window: they use the scales they have room
    for (:func:`ms_ssim_scales`) with the standard weights of those scales renormalised to sum to 1.
    """
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

    _check_pair(x, y, "ms_ssim")
    if x.dim() != 4:
        raise ValueError(f"ms_ssim expects images [B, C, H, W], got shape {tuple(x.shape)}")
    betas = MS_SSIM_BETAS[:ms_ssim_scales(x.shape[-2], x.shape[-1])]
    betas = tuple(b / sum(betas) for b in betas)
    value = multiscale_structural_similarity_index_measure(
        y.detach().float(), x.detach().float(), data_range=float(data_range), reduction="none", betas=betas,
        normalize="relu")
    return value.reshape(x.shape[0])


def accuracy(logits_or_preds: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of correct predictions.

    ``logits_or_preds`` is either scores ``[B, num_classes]`` (argmax is taken)
    or predicted labels ``[B]``; ``labels`` is ``[B]``.
    """
    pred = torch.as_tensor(logits_or_preds)
    labels = torch.as_tensor(labels)
    if pred.dim() == 2:
        pred = pred.argmax(dim=1)
    if pred.dim() != 1 or labels.dim() != 1 or pred.shape[0] != labels.shape[0]:
        raise ValueError(
            f"accuracy expects [B, C] or [B] predictions and [B] labels, got "
            f"{tuple(torch.as_tensor(logits_or_preds).shape)} and {tuple(labels.shape)}"
        )
    if pred.shape[0] == 0:
        raise ValueError("accuracy of an empty batch is undefined")
    return (pred.long().cpu() == labels.long().cpu()).double().mean().item()
