"""YAML run configs: loading, defaults and validation.

A config names a method, a dataset, the bandwidth ratio, the channel and the training recipe.
Ratios may be written as fractions ("1/12"). Unknown top-level keys are rejected so that a typo
does not silently fall back to a default.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

DEFAULTS = {
    "method": "deepjscc",
    "seed": 0,
    "dataset": {"name": "fashion-mnist", "root": None, "val_size": 5000},
    "ratio": "1/12",
    "quant_bits": None,
    "model": {"width": 64},
    "channel": {"name": "awgn", "csi": "perfect", "pilots": 4},
    "train_snr_db": [0.0, 20.0],
    "val_snr_db": 10.0,
    "optimizer": {"lr": 1.0e-3, "step_epochs": 50, "gamma": 0.5},
    "trainer": {"max_epochs": 200, "batch_size": 128, "limit_train_batches": None,
                "accelerator": "auto", "devices": "auto", "precision": "32-true", "num_workers": 0},
    "classifier": {"arch": "resnet_cifar", "depth": 20, "checkpoint": None, "max_epochs": 30,
                   "lr": 1.0e-3, "batch_size": 128, "augment": True},
    "eval": {"snr_db": [0, 5, 10, 15, 20], "samples": 2000},
}


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


def _merge(base: dict, override: dict, where: str = "") -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if key not in base:
            raise ConfigError(f"unknown config key {where}{key!r}; known: {', '.join(base)}")
        if isinstance(base[key], dict) and isinstance(value, dict):
            out[key] = _merge(base[key], value, f"{where}{key}.")
        else:
            out[key] = value
    return out


def load_config(path: str | Path, overrides: dict | None = None) -> dict:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as err:
        raise ConfigError(f"config file {path} does not exist") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path} must hold a mapping at top level")
    cfg = _merge(DEFAULTS, raw)
    if overrides:
        cfg = _merge(cfg, overrides)
    cfg["ratio"] = parse_ratio(cfg["ratio"])
    lo, hi = cfg["train_snr_db"] if isinstance(cfg["train_snr_db"], list) else [cfg["train_snr_db"]] * 2
    if lo > hi:
        raise ConfigError(f"train_snr_db range [{lo}, {hi}] is reversed")
    cfg["train_snr_db"] = [float(lo), float(hi)]
    return cfg
