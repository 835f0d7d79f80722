"""``semcom bundle calibrate``: measure an image bundle's quantised-symbol power on its training data and
record it in the card (for bundles written before cards carried it); a quantised bundle's card metrics
are measured again, since its own symbols changed."""

from __future__ import annotations

import warnings
from pathlib import Path

from ..data import load_dataset
from ..link import symbol_powers
from .evaluate import evaluate_bundle
from .format import read_bundle, sign_bundle, write_card
from .image import load_bundle

__all__ = ["calibrate_bundle"]


def calibrate_bundle(path: str | Path, count: int = 2000) -> dict[str, list[float]]:
    """Measure an image bundle's ``symbol_power`` on the first ``count`` training images of its dataset and
    record it in its card (signed again); returns it. For bundles written before cards carried it."""
    with warnings.catch_warnings():       # the very warning this function answers
        warnings.simplefilter("ignore")
        bundle = load_bundle(path)
    name, root = bundle.dataset()
    data = load_dataset(name, "train", root=root)
    images = data.batch(range(min(count, len(data))))[0]
    powers = symbol_powers(bundle.transceiver, images, bundle.card.get("train_snr_db"))
    card = {**read_bundle(path)[0], "symbol_power": powers}
    card["command"] = f"{card.get('command', '')} && semcom bundle calibrate {path}".lstrip(" &")
    write_card(path, card)
    sign_bundle(path)
    metrics = card.get("metrics") or {}
    if bundle.q is not None and metrics.get("points"):   # its own symbols changed: measure them again
        points = metrics["points"]
        records = evaluate_bundle(load_bundle(path), metrics.get("channel", "awgn"), [p["snr_db"] for p in points],
                                  samples=int(metrics.get("samples", 2000)), progress=False)
        metrics["points"] = [{k: r[k] for k in p} for p, r in zip(points, records)]
        write_card(path, {**card, "metrics": metrics})
        sign_bundle(path)
    return powers
