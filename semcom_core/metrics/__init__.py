"""Evaluation metrics: PSNR, SSIM (per sample) and classification accuracy."""

from .image import PSNR_MAX_DB, accuracy, psnr, ssim

__all__ = ["PSNR_MAX_DB", "accuracy", "psnr", "ssim"]
