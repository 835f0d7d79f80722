"""Bundles of the MFMSC family: one multi-task transceiver (MFMSC, MMSC, U-DeepSC) and its tokenizer.

One part, ``system`` (:class:`~semcom_core.methods.mfmsc.MFMSCSystem`), rebuilt from the card's tasks,
geometry and ``config``; the file ``tokenizer.model`` (sentencepiece) beside it.
"""

from __future__ import annotations

from pathlib import Path

from ..data.mfmsc.text import SubwordTokenizer
from ..methods.mfmsc import MFMSCSystem
from ..models.mfmsc.heads import TaskHeadSpec
from .format import BundleError, load_part, read_bundle, write_bundle

__all__ = ["load_mfmsc_bundle", "write_mfmsc_bundle"]

TOKENIZER = "tokenizer.model"


def write_mfmsc_bundle(path: str | Path, system: MFMSCSystem, cfg: dict, tokenizer, geometry: dict,
                       card: dict) -> Path:
    """Write ``system`` as a bundle into the run folder ``path``; ``card`` adds facts of the training."""
    heads = [{"name": s.name, "modalities": list(s.modalities), "kind": s.kind, "outputs": s.outputs}
             for s in system.tasks.values()]
    full = {"method": cfg["arch"], "tasks": heads, "geometry": geometry, "config": cfg, **card}
    return write_bundle(path, "mfmsc", full, {"system": system}, {TOKENIZER: tokenizer.model_bytes}, in_place=True)


def load_mfmsc_bundle(path: str | Path):
    """(system in eval mode, card, tokenizer); every problem is a BundleError."""
    path = Path(path)
    card, tensors, files = read_bundle(path, "mfmsc", ("tasks", "geometry", "config"))
    try:
        specs = [TaskHeadSpec(h["name"], tuple(h["modalities"]), h["kind"], int(h["outputs"])) for h in card["tasks"]]
        system = MFMSCSystem(specs, card["method"], card["config"]["model"], card["geometry"])
        tokenizer = SubwordTokenizer.from_bytes(files[TOKENIZER])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise BundleError(f"bundle {path}: card.json or {TOKENIZER} is incomplete or inconsistent ({err})") from err
    load_part(system, tensors["system"], "system", path)
    return system.eval(), card, tokenizer
