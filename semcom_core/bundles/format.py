"""The one bundle format of every method: a folder with ``card.json`` and ``weights.safetensors``.

The card says what the bundle is: ``format`` (:data:`BUNDLE_FORMAT`), ``family`` (``image``: the DeepJSCC
family and MIJSCC; ``multimodal``; ``mfmsc``), ``method``, ``parts`` (the named networks in the weights
file, each tensor stored as ``<part>.<name>``), ``files`` (other files of the bundle, such as a tokenizer),
the family's own keys (architecture specs, k, dataset, tasks, ...), the metrics it reached, the command
that made it and ``sha256``: the SHA-256 of the weights and of every other file. Networks are rebuilt from
the card and filled with safetensors, so loading a bundle never unpickles code. Loading checks every file
against its SHA-256 and every floating-point tensor for NaN or inf; ``semcom bundle sign`` records the
digests again after an edit made on purpose. Every problem is a :class:`BundleError` naming the path (and
the file, and the tensor).

Bundles written before this format (``semcom-bundle/1``, ``semcom-multimodal/1``, ``semcom-mfmsc/1``) are
read as well; ``semcom bundle upgrade`` rewrites one in this format.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from .. import __version__

__all__ = ["BUNDLE_FORMAT", "CARD", "FAMILIES", "WEIGHTS", "BundleError", "load_part", "read_bundle", "read_card",
           "sign_bundle", "upgrade_bundle", "write_bundle", "write_card"]

BUNDLE_FORMAT = "semcom-bundle/2"
FAMILIES = ("image", "multimodal", "mfmsc")
WEIGHTS, CARD = "weights.safetensors", "card.json"
_COMMON_KEYS = ("format", "family", "method", "parts")
# Earlier formats -> (family, the part their un-prefixed tensors belong to, or None when already prefixed)
_LEGACY = {"semcom-bundle/1": ("image", None), "semcom-multimodal/1": ("multimodal", "system"),
           "semcom-mfmsc/1": ("mfmsc", "system")}


class BundleError(RuntimeError):
    """A bundle is missing, corrupt, or does not match what it is used for."""


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def write_card(path: str | Path, card: dict) -> None:
    """(Re)write a bundle's card.json, e.g. to record metrics measured after export."""
    (Path(path) / CARD).write_text(json.dumps(card, indent=2, sort_keys=True, default=str) + "\n")


def write_bundle(path: str | Path, family: str, card: dict, parts: dict[str, nn.Module],
                 files: dict[str, bytes] | None = None, in_place: bool = False) -> Path:
    """Write a bundle folder: the card (``card`` plus the common keys), every part's tensors and ``files``.

    The folder is written beside ``path`` first and moved into place when complete, so an interrupted
    write never leaves a half-written bundle (an existing bundle at ``path`` is replaced). ``in_place``
    writes into the existing folder ``path`` instead (a run folder that is also a bundle), the card last."""
    if family not in FAMILIES:
        raise ValueError(f"unknown bundle family {family!r}; known: {', '.join(FAMILIES)}")
    path = Path(path)
    files = dict(files or {})
    full = {"code_version": __version__, "created": _now(), **card, "format": BUNDLE_FORMAT, "family": family,
            "parts": sorted(parts), "files": sorted(files)}
    tensors = {f"{name}.{key}": t.detach().cpu().contiguous()
               for name, module in parts.items() for key, t in module.state_dict().items()}
    if in_place:
        path.mkdir(parents=True, exist_ok=True)
        _write_files(path, tensors, files, full)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        _write_files(staging, tensors, files, full)
        if path.exists():
            shutil.rmtree(path)
        staging.rename(path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def _write_files(folder: Path, tensors: dict, files: dict, card: dict) -> None:
    save_file(tensors, str(folder / WEIGHTS), metadata={"format": BUNDLE_FORMAT})
    for name, data in files.items():
        (folder / name).write_bytes(data)
    write_card(folder, {**card, "sha256": _digests(folder, card["files"])})


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _digests(folder: Path, files) -> dict:
    """SHA-256 of the weights and of each of ``files`` in ``folder``."""
    return {name: _sha256(folder / name) for name in (WEIGHTS, *files)}


def _verify(path: Path, card: dict) -> None:
    """Every file of the bundle matches the SHA-256 its card records (bundles of an earlier format have none)."""
    if card.get("legacy_format"):
        return
    recorded = card.get("sha256")
    if not isinstance(recorded, dict) or WEIGHTS not in recorded:
        raise BundleError(f"bundle {path}: {CARD} records no SHA-256 of {WEIGHTS}; if you trust the files, "
                          f"record it with `semcom bundle sign {path}`")
    for name in (WEIGHTS, *card.get("files", [])):
        try:
            actual = _sha256(path / name)
        except FileNotFoundError as err:
            raise BundleError(f"bundle {path} has no {name}") from err
        except OSError as err:
            raise BundleError(f"bundle {path}: cannot read its {name} ({err})") from err
        if actual != recorded.get(name):
            raise BundleError(f"bundle {path}: {name} does not match the SHA-256 in its {CARD} (the file changed "
                              f"after the bundle was written); if the change was intended, record it with "
                              f"`semcom bundle sign {path}`")


def sign_bundle(path: str | Path) -> dict:
    """Record the SHA-256 of a bundle's files in its card (after an edit made on purpose); returns them.
    The card must still be readable and the weights must load and be finite."""
    path = Path(path)
    card = read_card(path)
    if card.get("legacy_format"):
        raise BundleError(f"bundle {path} is of the earlier format {card['legacy_format']!r}: "
                          f"`semcom bundle upgrade {path}` rewrites it in the current one, signed")
    _check_tensors(path, _load_tensors(path))
    digests = _digests(path, card.get("files", []))
    write_card(path, {**card, "sha256": digests})
    return digests


def read_card(path: str | Path, family: str | None = None, required=()) -> dict:
    """The card of the bundle folder ``path`` in the current format (earlier formats are converted), checked
    for ``family`` and the ``required`` family keys."""
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"bundle {path} does not exist or is not a folder (expected {WEIGHTS} and {CARD} in it)")
    try:
        card = json.loads((path / CARD).read_text())
    except FileNotFoundError as err:
        raise BundleError(f"bundle {path} has no {CARD}") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BundleError(f"bundle {path}: {CARD} is not valid JSON ({err})") from err
    if not isinstance(card, dict):
        raise BundleError(f"bundle {path}: {CARD} does not hold a mapping")
    card = _current(card, path)
    missing = [key for key in (*_COMMON_KEYS, *required) if key not in card]
    if missing:
        raise BundleError(f"bundle {path}: {CARD} lacks {', '.join(missing)}")
    if family is not None and card["family"] != family:
        raise BundleError(f"bundle {path} holds a {card['family']} system ({card['method']}), not one of the {family} family")
    return card


def _current(card: dict, path: Path) -> dict:
    """A card of an earlier format in the current one (in memory)."""
    fmt = card.get("format")
    if fmt == BUNDLE_FORMAT:
        return card
    if fmt not in _LEGACY:
        raise BundleError(f"bundle {path}: format {fmt!r}, this version reads {BUNDLE_FORMAT!r} "
                          f"(and the earlier {', '.join(_LEGACY)})")
    family, whole = _LEGACY[fmt]
    if whole is not None:
        parts = [whole]
    else:
        parts = [name for name, spec in (card.get("architecture") or {}).items() if spec]
    return {**card, "format": BUNDLE_FORMAT, "family": family, "parts": parts,
            "files": ["tokenizer.model"] if family == "mfmsc" else [], "legacy_format": fmt}


def read_bundle(path: str | Path, family: str | None = None, required=()) -> tuple[dict, dict, dict]:
    """``(card, tensors by part, files by name)`` of a bundle; every problem is a BundleError."""
    path = Path(path)
    card = read_card(path, family, required)
    _verify(path, card)
    tensors = _load_tensors(path)
    _check_tensors(path, tensors)
    legacy_whole = _LEGACY.get(card.get("legacy_format"), (None, None))[1]
    if legacy_whole is not None:
        tensors = {f"{legacy_whole}.{key}": t for key, t in tensors.items()}
    by_part: dict[str, dict[str, torch.Tensor]] = {name: {} for name in card["parts"]}
    for key, t in tensors.items():
        part, _, name = key.partition(".")
        if part in by_part:
            by_part[part][name] = t
    empty = [name for name, ts in by_part.items() if not ts]
    if empty:
        raise BundleError(f"bundle {path}: {WEIGHTS} has no tensors for {', '.join(empty)}")
    files = {}
    for name in card.get("files", []):
        try:
            files[name] = (path / name).read_bytes()
        except OSError as err:
            raise BundleError(f"bundle {path}: cannot read its {name} ({err})") from err
    return card, by_part, files


def _load_tensors(path: Path) -> dict:
    try:
        return load_file(str(path / WEIGHTS))
    except FileNotFoundError as err:
        raise BundleError(f"bundle {path} has no {WEIGHTS}") from err
    except (SafetensorError, OSError, ValueError) as err:
        raise BundleError(f"bundle {path}: {WEIGHTS} is corrupt ({err})") from err


def _check_tensors(path: Path, tensors: dict) -> None:
    """Every floating-point tensor is finite."""
    for key, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise BundleError(f"bundle {path}: {WEIGHTS} tensor {key} holds {bad} NaN or infinite value(s)")


def load_part(module: nn.Module, tensors: dict[str, torch.Tensor], name: str, path: str | Path) -> nn.Module:
    """Load one part's tensors into ``module`` strictly; BundleError naming ``path`` on mismatch."""
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise BundleError(f"bundle {path}: weights for {name} do not match the card ({first})") from err
    return module


def upgrade_bundle(path: str | Path) -> bool:
    """Rewrite a bundle of an earlier format in the current one, in place; False when it already is."""
    path = Path(path)
    card, tensors, files = read_bundle(path)
    legacy = card.pop("legacy_format", None)
    if legacy is None:
        return False
    parts = {name: _Tensors(ts) for name, ts in tensors.items()}
    write_bundle(path, card["family"], {k: v for k, v in card.items() if k not in ("parts", "files")}, parts, files)
    return True


class _Tensors(nn.Module):
    """A stand-in module whose state dict is a given set of tensors (for rewriting weights as they are)."""

    def __init__(self, tensors: dict[str, torch.Tensor]):
        super().__init__()
        self._tensors = tensors

    def state_dict(self, *args, **kwargs):  # noqa: ARG002 - the tensors, as they are
        return dict(self._tensors)
