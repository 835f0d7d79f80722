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
    "dataset": {"name": "fashion-mnist", "root": None, "val_size": 5000, "train_size": None},
    "ratio": "1/12",
    "quant_bits": None,
    "model": {"width": 64},
    "channel": {"name": "awgn", "csi": "perfect", "pilots": 4},
    "train_snr_db": [0.0, 20.0],
    "val_snr_db": 10.0,
    "optimizer": {"lr": 1.0e-3, "step_epochs": 50, "gamma": 0.5},
    # Method losses (the values a method does not use are ignored). alpha/alpha2 take a number in
    # [0, 1] or "ratio" (= k/n). tau: contrastive temperature. proj_*: projection head sizes.
    # beta, update_every: SemRE's soft update (eq. 14) and its interval in epochs.
    # denominator: SemRE's eq. 13 sums over the other classes' views ("negatives") or all ("all").
    # rec_reduction: eq. 9 per image as a mean over its n values ("mean", as written) or a sum ("sum").
    # lam, mu1, mu2: MIJSCC's eq. 18, MSE - lam (mu1 global MI + mu2 local MI); disc_hidden: its
    # discriminators' hidden width. eta, attention, mask_hidden, temperature: A-MIJSCC's mask threshold
    # (eq. 21), attention enhancement on/off (eq. 23), noise-encoder width and straight-through temperature.
    "loss": {"alpha": "ratio", "alpha2": "ratio", "tau": 0.1, "proj_hidden": 128, "proj_dim": 32,
             "beta": 0.9, "update_every": 1, "denominator": "negatives", "rec_reduction": "mean",
             "lam": 0.01, "mu1": 0.01, "mu2": 1.0, "disc_hidden": 512,
             "eta": 1.2, "attention": True, "mask_hidden": 64, "temperature": 0.5},
    # A run folder whose trained weights (method.safetensors) start this run; parts the method lacks are
    # ignored and new parts (A-MIJSCC's mask) keep their initialisation.
    "init_from": None,
    # SemCC's second stage (eq. 11); epochs 0 leaves it out (the "w/o FT" ablation).
    "finetune": {"epochs": 0, "lr": 1.0e-4, "step_epochs": 50, "gamma": 0.5},
    "trainer": {"max_epochs": 200, "batch_size": 128, "limit_train_batches": None,
                "accelerator": "auto", "devices": "auto", "precision": "32-true", "num_workers": 0,
                "progress_bar": True},
    "classifier": {"arch": "resnet_cifar", "depth": 20, "width": None, "checkpoint": None, "max_epochs": 30,
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
        cfg = _merge(cfg, raw)
    for layer in overrides:
        if layer:
            cfg = _merge(cfg, layer)
    return cfg


def load_config(path: str | Path, *overrides: dict | None) -> dict:
    """Read, merge the override layers in order (later wins), normalise and validate a config."""
    cfg = layered_config(DEFAULTS, Path(path), *overrides)
    cfg["ratio"] = parse_ratio(cfg["ratio"])
    lo, hi = cfg["train_snr_db"] if isinstance(cfg["train_snr_db"], list) else [cfg["train_snr_db"]] * 2
    if lo > hi:
        raise ConfigError(f"train_snr_db range [{lo}, {hi}] is reversed")
    cfg["train_snr_db"] = [float(lo), float(hi)]
    validate(cfg)
    return cfg


def validate(cfg: dict) -> None:
    """Catch what would otherwise fail (or silently mislead) after training has started."""
    from .data import dataset_info
    from .methods import METHODS
    from .methods.base import resolve_alpha

    if cfg["method"] not in METHODS:
        raise ConfigError(f"unknown method {cfg['method']!r}; known: {', '.join(METHODS)}")
    try:
        info = dataset_info(cfg["dataset"]["name"])
    except ValueError as err:
        raise ConfigError(str(err)) from err
    c, h, w = info["image_shape"]
    n = c * h * w
    if round(cfg["ratio"] * n) < 1:
        raise ConfigError(f"bandwidth ratio {cfg['ratio']:.3g} leaves no channel use for {n}-value "
                          f"{cfg['dataset']['name']} images (k = ratio * n rounds to 0)")
    from .channels import CHANNEL_NAMES

    if cfg["channel"]["name"] not in CHANNEL_NAMES:
        raise ConfigError(f"unknown channel {cfg['channel']['name']!r}; known: {', '.join(CHANNEL_NAMES)}")
    loss = cfg["loss"]
    for key in ("alpha", "alpha2"):
        try:
            resolve_alpha(loss[key], cfg["ratio"])
        except ValueError as err:
            raise ConfigError(f"loss.{key}: {err}") from err
    if float(loss["tau"]) <= 0:
        raise ConfigError(f"loss.tau must be > 0, got {loss['tau']}")
    if not 0.0 <= float(loss["beta"]) <= 1.0:
        raise ConfigError(f"loss.beta must be in [0, 1], got {loss['beta']}")
    if loss["denominator"] not in ("negatives", "all"):
        raise ConfigError(f"loss.denominator must be 'negatives' or 'all', got {loss['denominator']!r}")
    for key in ("lam", "mu1", "mu2"):
        if not float(loss[key]) >= 0.0:
            raise ConfigError(f"loss.{key} must be >= 0, got {loss[key]}")
    if not float(loss["eta"]) >= 0.0 or not float(loss["temperature"]) > 0.0:
        raise ConfigError(f"loss.eta must be >= 0 and loss.temperature > 0, got {loss['eta']}, {loss['temperature']}")
    if cfg["init_from"] is not None and not (Path(cfg["init_from"]) / "method.safetensors").is_file():
        raise ConfigError(f"init_from: {cfg['init_from']} has no method.safetensors (train that run first)")
    if loss["rec_reduction"] not in ("mean", "sum"):
        raise ConfigError(f"loss.rec_reduction must be 'mean' or 'sum', got {loss['rec_reduction']!r}")
    if int(cfg["trainer"]["max_epochs"]) + int(cfg["finetune"]["epochs"]) <= 0:
        raise ConfigError("nothing to train: trainer.max_epochs and finetune.epochs are both 0")
