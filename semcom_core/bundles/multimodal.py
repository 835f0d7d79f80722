"""Bundles of the multi-modal family: the device encoders, their channels and the server classifier.

One part, ``system`` (:class:`~semcom_core.methods.multimodal.MultiModalSystem`), rebuilt from the card's
``config``; the card adds the modalities, classes, channel and SNR, the augmentations, and the accuracy,
rounds and symbols of the fine-tuning that made it.
"""

from __future__ import annotations

from pathlib import Path

from ..data.multimodal import MultiModalDataset
from ..methods.multimodal import MultiModalSystem
from .format import BundleError, load_part, read_bundle, write_bundle

__all__ = ["build_system", "check_bundle_data", "load_multimodal_bundle", "write_multimodal_bundle"]


def build_system(cfg: dict, num_classes: int) -> MultiModalSystem:
    """The system a (multi-modal) config describes."""
    m = cfg["model"]
    return MultiModalSystem(cfg["modalities"], int(m["k"]), num_classes, int(m["width"]), m["norm"],
                            int(m["server_hidden"]), dict(cfg["channel"]), m.get("feature_norm", "none"))


def write_multimodal_bundle(path: str | Path, system: MultiModalSystem, cfg: dict, card: dict) -> Path:
    """Write ``system`` as a bundle into the run folder ``path``; ``card`` adds method, metrics and the like."""
    full = {"modalities": system.modalities, "model": cfg["model"], "dataset": cfg["dataset"],
            "channel": cfg["channel"], "augment": cfg["augment"],
            "label_fraction": cfg["finetune"]["label_fraction"], "config": cfg, **card}
    return write_bundle(path, "multimodal", full, {"system": system}, in_place=True)


def load_multimodal_bundle(path: str | Path) -> tuple[MultiModalSystem, dict]:
    """(system in eval mode, card); every problem is a BundleError."""
    path = Path(path)
    card, tensors, _ = read_bundle(path, "multimodal", ("config", "num_classes", "modalities"))
    try:
        system = build_system(card["config"], int(card["num_classes"]))
    except (KeyError, ValueError, TypeError) as err:
        raise BundleError(f"bundle {path}: card.json is incomplete or inconsistent ({err})") from err
    load_part(system, tensors["system"], "system", path)
    return system.eval(), card


def check_bundle_data(card: dict, data: MultiModalDataset) -> None:
    """The data must offer the bundle's devices, in its order, at its channel counts."""
    if list(data.modalities) != list(card["modalities"]):
        raise BundleError(f"the bundle has {len(card['modalities'])} devices ({', '.join(card['modalities'])}) "
                          f"but the data has {len(data.modalities)} modalities ({', '.join(data.modalities)})")
    if len(data.classes) != int(card["num_classes"]):
        raise BundleError(f"the bundle classifies {card['num_classes']} classes, the data has {len(data.classes)}")
