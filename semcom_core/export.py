"""Turn a training run folder into a bundle, measuring the metrics the card records."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file

from .bundle import load_bundle, load_part, save_bundle, write_card
from .experiments.evaluate import evaluate_bundle
from .methods.transceiver import Transceiver
from .models import build_model


def export_run(run_dir: str | Path, out: str | Path, command: str, card_snrs=(0.0, 10.0, 20.0),
               samples: int = 2000) -> Path:
    run_dir = Path(run_dir)
    try:
        run = json.loads((run_dir / "run.json").read_text())
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{run_dir} is not a finished training run (no run.json)") from err
    cfg = run["config"]
    transceiver = Transceiver(run["encoder_spec"], run["decoder_spec"], run["k"], cfg["quant_bits"])
    state = load_file(str(run_dir / "transceiver.safetensors"))
    load_part(transceiver.encoder, state, "encoder", run_dir)
    load_part(transceiver.decoder, state, "decoder", run_dir)
    classifier = build_model(run["classifier_spec"])
    classifier.load_state_dict(load_file(str(run_dir / "classifier.safetensors")))
    card = {"method": run["method"],
            "dataset": {"name": cfg["dataset"]["name"], "normalisation": "pixel / 255, range [0, 1]",
                        "split_for_metrics": "test"},
            "channel": cfg["channel"], "train_snr_db": cfg["train_snr_db"],
            "training": {"config": cfg, "train_seconds": run["train_seconds"], "val_metrics": run["metrics"]},
            "command": f"{run['command']} && {command}"}
    save_bundle(out, transceiver, card, classifier, run["classifier_spec"])
    # Measure on the test split with the bundle exactly as users will load it.
    bundle = load_bundle(out)
    records = evaluate_bundle(bundle, cfg["channel"]["name"], list(card_snrs), samples=samples, progress=False)
    bundle.card["metrics"] = {"samples": samples, "clean_accuracy": records[0]["clean_accuracy"],
                       "channel": cfg["channel"]["name"],
                       "points": [{k: r[k] for k in ("snr_db", "psnr", "ssim", "accuracy")} for r in records]}
    write_card(out, bundle.card)
    return Path(out)
