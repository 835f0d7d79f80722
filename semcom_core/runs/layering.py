"""Config layering: defaults <- a YAML file <- override layers, unknown keys rejected; config errors."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

__all__ = ["ConfigError", "layered_config", "parse_ratio"]


class ConfigError(ValueError):
    """A run config is missing, unreadable or inconsistent."""


def parse_ratio(value) -> float:
    """Accept 0.0833, "1/12" or "1/2.5"."""
    text = str(value).replace(" ", "")
    try:
        num, _, den = text.partition("/")
        ratio = float(num) / float(den) if den else float(num)
    except (ValueError, ZeroDivisionError) as err:
        raise ConfigError(f"bandwidth ratio {value!r} is not a number or fraction like 1/12") from err
    if not 0 < ratio <= 1:
        raise ConfigError(f"bandwidth ratio must be in (0, 1], got {value!r}")
    return ratio


#: Mappings whose keys are the user's to choose (their values are checked by the family's schema).
FREE_KEYS = ("train.lr_per_task", "data.train_size_per_task")


def _merge(base: dict, override: dict, where: str = "") -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if f"{where}{key}" in FREE_KEYS and isinstance(base.get(key), dict) and isinstance(value, dict):
            out[key] = {**base[key], **value}
            continue
        if key not in base:
            raise ConfigError(f"unknown config key {where}{key!r}; known: {', '.join(base)}")
        if isinstance(base[key], dict) and isinstance(value, dict):
            out[key] = _merge(base[key], value, f"{where}{key}.")
        else:
            out[key] = value
    return out


def layered_config(defaults: dict, path: str | Path | None, *overrides: dict | None) -> dict:
    """``defaults`` <- the YAML file (if any) <- each override layer; unknown keys are errors."""
    cfg = copy.deepcopy(defaults)
    if path is not None:
        try:
            raw = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError as err:
            raise ConfigError(f"config file {path} does not exist") from err
        except yaml.YAMLError as err:
            raise ConfigError(f"config file {path} is not valid YAML: {err}") from err
        if not isinstance(raw, dict):
            raise ConfigError(f"config file {path} must hold a mapping at top level")
        try:
            cfg = _merge(cfg, raw)
        except ConfigError as err:
            raise ConfigError(f"config {path}: {err}") from None
    for layer in overrides:
        if layer:
            cfg = _merge(cfg, layer)
    return cfg



