"""Evaluate an image-family bundle over a channel and a list of SNRs; one record per point."""

from __future__ import annotations

import torch
from tqdm import tqdm

from ..channels import make_channel
from ..data import load_dataset
from ..link import batch_of
from ..metrics import psnr, ssim
from ..records import make_record
from ..units import noise_var_from_snr_db
from .image import Bundle


@torch.no_grad()
def clean_accuracy(bundle: Bundle, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 256) -> float:
    correct = sum((bundle.classify(images[i:i + batch_size]).argmax(1) == labels[i:i + batch_size]).sum().item()
                  for i in range(0, len(images), batch_size))
    return correct / len(images)


@torch.no_grad()
def evaluate_models(transceiver, classifier, channel, snr_db: float, images: torch.Tensor, labels: torch.Tensor,
                    batch_size: int = 256) -> dict:
    """Mean PSNR/SSIM of the reconstructions at one SNR and the classifier's accuracy on them.

    Images and labels may live on any device; the models must be on the same one.
    """
    psnrs, ssims, hits = [], [], []
    for i in range(0, len(images), batch_size):
        x, y = images[i:i + batch_size], labels[i:i + batch_size]
        x_hat = transceiver(x, channel, float(snr_db))
        psnrs.append(psnr(x_hat, x).cpu())
        ssims.append(ssim(x_hat, x).cpu())
        if classifier is not None:
            hits.append((classifier(x_hat).argmax(1) == y).cpu())
    return _figures(psnrs, ssims, hits if classifier is not None else None)


def _figures(psnrs: list, ssims: list, hits: list | None) -> dict:
    """Mean PSNR, SSIM and accuracy over the images whose figures are finite; ``invalid``: the others (a
    reconstruction with NaN or inf), kept out so that one cannot poison the record."""
    p, s = torch.cat(psnrs).double(), torch.cat(ssims).double()
    valid = torch.isfinite(p) & torch.isfinite(s)
    p, n = p[valid], int(valid.sum())
    return {"psnr": p.mean().item() if n else float("nan"), "psnr_std": p.std().item() if n > 1 else 0.0,
            "ssim": s[valid].mean().item() if n else float("nan"),
            "accuracy": (torch.cat(hits)[valid].double().mean().item() if n else float("nan"))
            if hits is not None else None,
            "invalid": int((~valid).sum())}


@torch.no_grad()
def evaluate_framed(bundle: Bundle, channel, snr_db: float, images: torch.Tensor, labels: torch.Tensor,
                    batch_size: int = 256) -> dict:
    """MIJSCC bundles: the deployed path, ``transmit`` (A-MIJSCC mask fed the true noise variance) ->
    the sent symbols through the channel -> ``receive`` (class from the latent classifier)."""
    psnrs, ssims, hits, sent = [], [], [], 0
    for i in range(0, len(images), batch_size):
        x, y = images[i:i + batch_size], labels[i:i + batch_size]
        frames = bundle.transmit(x, noise_var=noise_var_from_snr_db(float(snr_db)))
        s, side = batch_of(frames, bundle.k, bundle.q)
        sent += int(side.end.sum())
        y_eq = channel(s, float(snr_db)).numpy()
        x_hat, pred = bundle.receive([(y_eq[row, :info.end], info) for row, info in enumerate(side.rows())])
        x_hat = torch.from_numpy(x_hat)
        psnrs.append(psnr(x_hat, x))
        ssims.append(ssim(x_hat, x))
        hits.append(torch.from_numpy(pred) == y)
    return {**_figures(psnrs, ssims, hits), "gamma": sent / (len(images) * bundle.k)}


def evaluate_point(bundle: Bundle, channel, snr_db: float, images: torch.Tensor, labels: torch.Tensor,
                   batch_size: int = 256) -> dict:
    """Per-image PSNR/SSIM and the bundle classifier's accuracy on reconstructions at one SNR."""
    if bundle.adaptive or bundle.latent_classifier is not None:
        return evaluate_framed(bundle, channel, snr_db, images, labels, batch_size)
    return evaluate_models(bundle.transceiver, bundle.classifier, channel, snr_db, images, labels, batch_size)


def evaluate_bundle(bundle: Bundle, channel: str, snrs: list[float], samples: int = 2000, seed: int = 0,
                    data_root=None, batch_size: int = 256, progress: bool = True, **channel_kw) -> list[dict]:
    dataset_name, card_root = bundle.dataset()
    data = load_dataset(dataset_name, "test", root=data_root or card_root)
    samples = min(samples, len(data))
    images, labels = data.batch(range(samples))
    bundle.check_images(images)
    generator = torch.Generator().manual_seed(seed)
    chan = make_channel(channel, generator=generator, **channel_kw)
    clean = clean_accuracy(bundle, images, labels) if bundle.classifier is not None else None
    records = []
    for snr in tqdm(snrs, desc=f"eval {channel}", disable=not progress, unit="snr"):
        metrics = evaluate_point(bundle, chan, snr, images, labels, batch_size)
        invalid = metrics.pop("invalid")
        records.append(make_record(bundle.card["method"], dataset_name, channel, snr, bundle.card["ratio"],
                                   metrics, samples - invalid, seed, source="eval", clean_accuracy=clean,
                                   bundle=str(bundle.path), invalid=invalid))
    return records
