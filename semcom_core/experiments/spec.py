"""Experiment specs: the YAML mapping each ``semcom experiment`` command reads, and its seeds."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..runs.config import ConfigError

__all__ = ["read_spec", "spec_seeds"]


def read_spec(path: str | Path, known_keys) -> dict:
    """An experiment spec (YAML mapping) whose top-level keys are all in `known_keys`."""
    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text())
    except FileNotFoundError as err:
        raise ConfigError(f"experiment spec {path} does not exist") from err
    if not isinstance(spec, dict):
        raise ConfigError(f"experiment spec {path} must hold a mapping")
    unknown = set(spec) - set(known_keys)
    if unknown:
        raise ConfigError(f"experiment spec {path}: unknown keys {sorted(unknown)}; known: {sorted(known_keys)}")
    return spec


def spec_seeds(spec: dict) -> list[int]:
    """The spec's seeds: ``seeds: [...]``, else ``seed: s``, else [0]."""
    seeds = spec.get("seeds", [spec.get("seed", 0)])
    if not isinstance(seeds, list) or not seeds or len(set(seeds)) != len(seeds) \
            or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise ValueError(f"seeds must be a list of distinct integers >= 0, got {seeds!r}")
    return seeds
