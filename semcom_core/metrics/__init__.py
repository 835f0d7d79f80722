"""Evaluation metrics: PSNR, SSIM, MS-SSIM (per sample) and classification accuracy."""

from .image import PSNR_MAX_DB, accuracy, ms_ssim, psnr, ssim

__all__ = ["PSNR_MAX_DB", "accuracy", "ms_ssim", "psnr", "ssim"]
