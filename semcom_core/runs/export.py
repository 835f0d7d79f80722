"""``semcom export``: a finished run folder of any family as a bundle.

Image family: the transceiver and classifier (and for (A-)MIJSCC the latent classifier, trained here on the
frozen transceiver, and the adaptive mask), with the metrics measured on the test split through the bundle
as users load it. Multi-modal fine-tuning and MFMSC runs are bundles already: their bundle files are copied.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from ..bundles import load_bundle, read_card, save_bundle, write_card
from ..bundles.evaluate import evaluate_bundle
from ..data import load_dataset
from ..methods.latent_classifier import encode_all, labelled_subset, train_latent_classifier
from .folder import read_run
from .image import load_method, load_run, split


def _card(run: dict, command: str) -> dict:
    """What a bundle's card says about the run it came from (with the dataset folder, when the run read
    one, so that evaluation, the demo and the flowgraphs find the same data)."""
    cfg = run["config"]
    root = cfg["dataset"].get("root")
    return {"method": run["method"],
            "dataset": {"name": cfg["dataset"]["name"], "normalisation": "pixel / 255, range [0, 1]",
                        "split_for_metrics": "test", **({"root": str(Path(root).resolve())} if root else {})},
            "channel": cfg["channel"], "train_snr_db": cfg["train_snr_db"],
            "training": {"config": cfg, "train_seconds": run["seconds"], "val_metrics": run["metrics"]},
            "command": f"{run['command']} && {command}"}


def calibration_images(cfg: dict, count: int = 2000) -> torch.Tensor:
    """Training images on which a bundle's symbol power is measured (the first ``count`` of the run's
    training subset)."""
    full, train, _val = split(cfg)
    return full.batch(train.indices[:count])[0]


def export_run(run_dir: str | Path, out: str | Path, command: str, card_snrs=(0.0, 10.0, 20.0),
               samples: int = 2000, data_root: str | None = None) -> Path:
    run, transceiver, classifier = load_run(run_dir)
    cfg = run["config"]
    if data_root:
        cfg["dataset"]["root"] = str(data_root)
    card = _card(run, command)
    save_bundle(out, transceiver, card, classifier, run["classifier_spec"],
                calibration_images=calibration_images(cfg))
    # Measure on the test split with the bundle exactly as users will load it.
    bundle = load_bundle(out)
    snrs = sorted({*map(float, card_snrs), *map(float, cfg["train_snr_db"])})
    records = evaluate_bundle(bundle, cfg["channel"]["name"], snrs, samples=samples, progress=False)
    bundle.card["metrics"] = {"samples": samples, "clean_accuracy": records[0]["clean_accuracy"],
                       "channel": cfg["channel"]["name"],
                       "points": [{k: r[k] for k in ("snr_db", "psnr", "ssim", "accuracy")} for r in records]}
    write_card(out, bundle.card)
    return Path(out)


def export_mijscc_run(run_dir: str | Path, out: str | Path, command: str, card_snrs=(6.0, 12.0, 18.0, 21.0),
                      samples: int = 2000, probe_epochs: int = 20, data_root: str | None = None) -> Path:
    """A (A-)MIJSCC run as a bundle: encoder, decoder, the latent classifier (trained here on the frozen
    transceiver, all training labels) and, for A-MIJSCC, the noise-adaptive mask. The card's metrics are
    measured through the bundle's own framed path (`transmit` -> AWGN on the sent symbols -> `receive`)."""
    run_dir = Path(run_dir)
    run = read_run(run_dir)
    method, cfg = load_method(run_dir)
    if data_root:
        cfg["dataset"]["root"] = run["config"]["dataset"]["root"] = str(data_root)
    full, train, _val = split(cfg)
    train_images, train_labels = full.batch(train.indices)
    num_classes = len(load_dataset(cfg["dataset"]["name"], "test", root=cfg["dataset"]["root"]).classes)
    z_train = encode_all(method.transceiver.encoder, train_images)
    mlp = fit_latent_classifier(method, cfg, z_train, train_labels, num_classes, 1.0, probe_epochs, 256, cfg["seed"])
    extra = {"latent_classifier": (mlp, {"arch": "latent_mlp", "in_dim": 2 * method.transceiver.k,
                                         "num_classes": num_classes, "hidden": 256})}
    loss = cfg["loss"]
    if cfg["method"] == "a-mijscc":
        extra["adaptive_mask"] = (method.transceiver.mask, {
            "arch": "adaptive_mask", "k": method.transceiver.k, "eta": float(loss["eta"]),
            "hidden": int(loss["mask_hidden"]), "temperature": float(loss["temperature"]),
            "attention": bool(loss["attention"])})
    card = _card(run, command)
    save_bundle(out, method.transceiver, card, method.downstream.net, run["classifier_spec"], extra,
                calibration_images=train_images[:2000])   # the split read above: not read again
    # Measured through the bundle's framed path: transmit -> the sent symbols over AWGN -> receive.
    bundle = load_bundle(out)
    records = evaluate_bundle(bundle, "awgn", list(card_snrs), samples=samples, progress=False)
    bundle.card["metrics"] = {"samples": samples, "channel": "awgn", "measured_through": "Bundle.transmit/receive",
                              "points": [{k: r[k] for k in ("snr_db", "psnr", "ssim", "accuracy", "gamma")}
                                         for r in records]}
    write_card(out, bundle.card)
    return Path(out)


def fit_latent_classifier(method, cfg: dict, z_train, labels, num_classes: int, fraction: float = 1.0,
                          epochs: int = 20, hidden: int = 256, seed: int = 0):
    """The 3-layer MLP on the received latent of a frozen (A-)MIJSCC, trained with a class-balanced
    ``fraction`` of the labels at SNRs over the training range."""
    idx = labelled_subset(labels, fraction, seed=seed)
    receive = lambda z, snr: method.receive_latent(z, snr)[0]  # noqa: E731
    with torch.enable_grad():
        return train_latent_classifier(receive, z_train[idx], labels[idx], cfg["train_snr_db"], num_classes,
                                       epochs=epochs, hidden=hidden, seed=seed)


def export(run_dir: str | Path, out: str | Path, command: str, samples: int = 2000,
           data_root: str | None = None) -> Path:
    """Any finished run as a bundle at ``out`` (see the module docstring). ``data_root`` replaces the run's
    dataset folder (a run trained elsewhere). The bundle is built beside ``out`` and moved there only when
    complete, metrics included: a failure leaves no partial bundle (and an existing one as it was)."""
    run = read_run(run_dir)
    out = Path(out)
    staging = out.parent / f".{out.name}.export-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        _export_to(run, Path(run_dir), staging, command, samples, data_root)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return out


def _export_to(run: dict, run_dir: Path, out: Path, command: str, samples: int, data_root) -> None:
    family = run.get("family", "image")
    if family == "image":
        exporter = export_mijscc_run if run["method"] in ("mijscc", "a-mijscc") else export_run
        exporter(run_dir, out, command=command, samples=samples, data_root=data_root)
        return
    card = read_card(run_dir, family)          # a run of a deployable family is a bundle already
    out.mkdir(parents=True)
    for name in ("card.json", "weights.safetensors", *card.get("files", [])):
        shutil.copy2(run_dir / name, out / name)
