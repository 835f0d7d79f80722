"""Turn a training run folder into a bundle, measuring the metrics the card records."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file

from .bundle import load_bundle, load_part, save_bundle, write_card
from .experiments.evaluate import evaluate_bundle
from .methods.transceiver import Transceiver
from .models import build_model


def read_run(run_dir: str | Path) -> dict:
    run_dir = Path(run_dir)
    try:
        return json.loads((run_dir / "run.json").read_text())
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{run_dir} is not a finished training run (no run.json)") from err


def load_run(run_dir: str | Path, stage: str | None = None):
    """(run, transceiver, classifier) of a finished run, in eval mode; `stage` picks the weights saved
    after that stage (e.g. SemCC's "pretrain")."""
    run_dir = Path(run_dir)
    run = read_run(run_dir)
    transceiver = Transceiver(run["encoder_spec"], run["decoder_spec"], run["k"], run["config"]["quant_bits"])
    last_stage = run["stages"][-1]["name"] if run.get("stages") else None
    final = stage is None or stage == last_stage
    weights = run_dir / ("transceiver.safetensors" if final else f"transceiver.{stage}.safetensors")
    if not weights.is_file():
        raise FileNotFoundError(f"{run_dir} has no {weights.name} (stages run: "
                                f"{', '.join(s['name'] for s in run.get('stages', [])) or 'unknown'})")
    state = load_file(str(weights))
    load_part(transceiver.encoder, state, "encoder", run_dir)
    load_part(transceiver.decoder, state, "decoder", run_dir)
    classifier = build_model(run["classifier_spec"])
    classifier.load_state_dict(load_file(str(run_dir / "classifier.safetensors")))
    return run, transceiver.eval(), classifier.eval()


def _card(run: dict, command: str) -> dict:
    """What a bundle's card says about the run it came from."""
    cfg = run["config"]
    return {"method": run["method"],
            "dataset": {"name": cfg["dataset"]["name"], "normalisation": "pixel / 255, range [0, 1]",
                        "split_for_metrics": "test"},
            "channel": cfg["channel"], "train_snr_db": cfg["train_snr_db"],
            "training": {"config": cfg, "train_seconds": run["train_seconds"], "val_metrics": run["metrics"]},
            "command": f"{run['command']} && {command}"}


def export_run(run_dir: str | Path, out: str | Path, command: str, card_snrs=(0.0, 10.0, 20.0),
               samples: int = 2000) -> Path:
    run, transceiver, classifier = load_run(run_dir)
    cfg = run["config"]
    card = _card(run, command)
    save_bundle(out, transceiver, card, classifier, run["classifier_spec"])
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
                      samples: int = 2000, probe_epochs: int = 20) -> Path:
    """A (A-)MIJSCC run as a bundle: encoder, decoder, the latent classifier (trained here on the frozen
    transceiver, all training labels) and, for A-MIJSCC, the noise-adaptive mask. The card's metrics are
    measured through the bundle's own framed path (`transmit` -> AWGN on the sent symbols -> `receive`)."""
    from .data import load_dataset
    from .experiments.mijscc import _Data, fit_latent_classifier, load_method
    from .methods.latent_classifier import encode_all

    run_dir = Path(run_dir)
    run = read_run(run_dir)
    method, cfg = load_method(run_dir)
    train_images, train_labels = _Data.train_split(cfg)
    num_classes = len(load_dataset(cfg["dataset"]["name"], "test", root=cfg["dataset"]["root"]).classes)
    z_train = encode_all(method.transceiver.encoder, train_images)
    mlp = fit_latent_classifier(method, cfg, z_train, train_labels, num_classes, 1.0, probe_epochs, 256, cfg["seed"])
    extra = {"latent_classifier": (mlp, {"arch": "latent_mlp", "in_dim": 2 * method.transceiver.k,
                                         "num_classes": num_classes, "hidden": 256})}
    loss = cfg["loss"]
    if cfg["method"] == "a-mijscc":
        extra["adaptive_mask"] = (method.adaptive, {
            "arch": "adaptive_mask", "k": method.transceiver.k, "eta": float(loss["eta"]),
            "hidden": int(loss["mask_hidden"]), "temperature": float(loss["temperature"]),
            "attention": bool(loss["attention"])})
    card = _card(run, command)
    save_bundle(out, method.transceiver, card, method.downstream.net, run["classifier_spec"], extra)
    # Measured through the bundle's framed path: transmit -> the sent symbols over AWGN -> receive.
    bundle = load_bundle(out)
    records = evaluate_bundle(bundle, "awgn", list(card_snrs), samples=samples, progress=False)
    bundle.card["metrics"] = {"samples": samples, "channel": "awgn", "measured_through": "Bundle.transmit/receive",
                              "points": [{k: r[k] for k in ("snr_db", "psnr", "ssim", "accuracy", "gamma")}
                                         for r in records]}
    write_card(out, bundle.card)
    return Path(out)
