"""The one loader of run configs (YAML) for every family of methods, and each family's defaults and checks.

A config is the family's defaults <- a YAML file <- override layers (``--set``, a sweep's point), later
layers winning; unknown keys are rejected so that a typo does not silently fall back to a default. The
family's schema (:mod:`.schema`, pydantic) then checks every field's type and range, and the family's check
here normalises values (ratios written as fractions, SNR ranges) and rejects, across fields, what would
fail or silently mislead once training has started: all of it before any data is read or model built, and
without importing torch. An image-family config must name its ``method``.
"""

from __future__ import annotations

from pathlib import Path

from .layering import ConfigError, layered_config, parse_ratio
from .schema import MFMSC_TASKS, REQUIRED, check_schema

__all__ = ["ConfigError", "SCHEMAS", "load_config", "parse_ratio"]

# --- image: DeepJSCC, DeepSC, SemCC, SemRE, MIJSCC, A-MIJSCC (`semcom train`) --------------------------------
IMAGE = {
    "method": REQUIRED,
    "seed": 0,
    "dataset": {"name": "fashion-mnist", "root": None, "val_size": 5000, "train_size": None},
    "ratio": "1/12",
    "quant_bits": None,
    "model": {"width": 64},
    "channel": {"name": "awgn", "csi": "perfect", "pilots": 4},
    "train_snr_db": [0.0, 20.0],
    "val_snr_db": 10.0,
    # schedule "step": lr times gamma every step_epochs; "plateau": times gamma once trainer.monitor has not
    # improved for plateau_patience epochs.
    "optimizer": {"lr": 1.0e-3, "step_epochs": 50, "gamma": 0.5, "schedule": "step", "plateau_patience": 1},
    # Method losses (the values a method does not use are ignored). alpha/alpha2 take a number in
    # [0, 1] or "ratio" (= k/n). tau: contrastive temperature. proj_*: projection head sizes.
    # beta, update_every: SemRE's soft update (eq. 14) and its interval, in update_unit ("epoch" as Algorithm 2,
    # or "step"); semantic_views: "both" (transmitted and re-encoded, eq. 13) or "transmitted" (ablation).
    # denominator: SemRE's eq. 13 sums over the other classes' views ("negatives") or all ("all").
    # rec_reduction: eq. 9 per image as a mean over its n values ("mean", as written) or a sum ("sum").
    # lam, mu1, mu2: MIJSCC's eq. 18, MSE - lam (mu1 global MI + mu2 local MI); disc_hidden: its
    # discriminators' hidden width. eta, attention, mask_hidden, temperature: A-MIJSCC's mask threshold
    # (eq. 21), attention enhancement on/off (eq. 23), noise-encoder width and straight-through temperature.
    "loss": {"alpha": "ratio", "alpha2": "ratio", "tau": 0.1, "proj_hidden": 128, "proj_dim": 32,
             "beta": 0.9, "update_every": 1, "update_unit": "epoch", "semantic_views": "both", "denominator": "negatives", "rec_reduction": "mean",
             "lam": 0.01, "mu1": 0.01, "mu2": 1.0, "disc_hidden": 512,
             "eta": 1.2, "attention": True, "mask_hidden": 64, "temperature": 0.5},
    # A run folder whose trained weights (method.safetensors) start this run; parts the method lacks are
    # ignored and new parts (A-MIJSCC's mask) keep their initialisation.
    "init_from": None,
    # SemCC's second stage (eq. 11); epochs 0 leaves it out (the "w/o FT" ablation).
    "finetune": {"epochs": 0, "lr": 1.0e-4, "step_epochs": 50, "gamma": 0.5},
    # patience: stop a stage once `monitor` (val/loss: the method's own objective on the validation images)
    # has not improved by min_delta for that many epochs, and keep its best epoch's weights; null runs
    # max_epochs and keeps the last.
    "trainer": {"max_epochs": 200, "patience": None, "min_delta": 0.0, "monitor": "val/loss",
                "batch_size": 128, "limit_train_batches": None,
                "accelerator": "auto", "devices": "auto", "num_nodes": 1, "strategy": "auto", "precision": "32-true",
                "compile": False, "num_workers": 0,
                "progress_bar": True},
    "classifier": {"arch": "resnet_cifar", "depth": 20, "width": None, "checkpoint": None, "max_epochs": 30,
                   "lr": 1.0e-3, "batch_size": 128, "augment": True},
    "eval": {"snr_db": [0, 5, 10, 15, 20], "samples": 2000},
}


def validate_image(cfg: dict) -> None:
    """Normalise (ratio, SNR range) and catch, across fields, what would otherwise fail or silently mislead
    after training has started (each field's type and range: :mod:`.schema`)."""
    from ..data import dataset_info

    cfg["ratio"] = parse_ratio(cfg["ratio"])
    lo, hi = cfg["train_snr_db"] if isinstance(cfg["train_snr_db"], list) else [cfg["train_snr_db"]] * 2
    if lo > hi:
        raise ConfigError(f"train_snr_db range [{lo}, {hi}] is reversed")
    cfg["train_snr_db"] = [float(lo), float(hi)]
    try:
        info = dataset_info(cfg["dataset"]["name"])
    except ValueError as err:
        raise ConfigError(str(err)) from err
    c, h, w = info["image_shape"]
    n = c * h * w
    if round(cfg["ratio"] * n) < 1:
        raise ConfigError(f"bandwidth ratio {cfg['ratio']:.3g} leaves no channel use for {n}-value "
                          f"{cfg['dataset']['name']} images (k = ratio * n rounds to 0)")
    if cfg["init_from"] is not None and not (Path(cfg["init_from"]) / "method.safetensors").is_file():
        raise ConfigError(f"init_from: {cfg['init_from']} has no method.safetensors (train that run first)")
    if int(cfg["trainer"]["max_epochs"]) + int(cfg["finetune"]["epochs"]) <= 0:
        raise ConfigError("nothing to train: trainer.max_epochs and finetune.epochs are both 0")


# --- multimodal: devices and server (`semcom multimodal`) ----------------------------------------------------
MULTIMODAL = {
    "seed": 0,
    "dataset": {"name": "rgbd-scenes", "root": None, "size": 32, "train_size": 2000, "test_size": 1000},
    "modalities": ["rgb", "depth"],
    # feature_norm: "batch" standardises each of the K transmitted values (models/resnet18.py says why).
    "model": {"k": 64, "width": 64, "norm": "batch", "server_hidden": 256, "feature_norm": "batch"},
    "channel": {"name": "awgn"},
    "augment": {"resize": None, "crop": 32, "scale": [0.5, 1.0], "flip": True, "color_jitter": 0.4,
                "grayscale": 0.2, "blur": 0.5, "depth_scale": 0.1, "depth_noise": 0.01},
    # No communication in pre-training (Algorithm 1). k_shared: K_sha of eq. 13-14. lam_*: lambda_m, lambda_sha,
    # lambda_uni; tau: SimCLR's temperature. center: correlations on batch-centred features (Pearson).
    # projector: widths of the MLP the losses see (empty: the features themselves, as the equations write
    # them). warmup_steps: the learning rate grows linearly over the first steps, then follows a cosine.
    "pretrain": {"method": "proposed", "epochs": 20, "batch_size": 128, "optimizer": "adam", "lr": 1.0e-3,
                 "momentum": 0.9, "weight_decay": 1.0e-4, "k_shared": 48, "lam_intra": 0.005,
                 "lam_shared": 0.005, "lam_unique": 0.005, "tau": 0.2, "center": True, "augment": True,
                 "shuffle": True, "projector": [256, 256], "warmup_steps": 50},
    # snr_db: each device's SNR, one number for all or a list (one per modality). label_fraction: the share of
    # training labels used (stratified by class). eval_every: rounds between test-accuracy points.
    "finetune": {"rounds": 300, "batch_size": 64, "optimizer": "sgd", "lr": 0.01, "momentum": 0.9,
                 "weight_decay": 5.0e-4, "snr_db": 10.0, "label_fraction": 1.0, "eval_every": 10,
                 "augment": True},
    "trainer": {"accelerator": "cpu", "devices": 1, "num_nodes": 1, "strategy": "auto", "precision": "32-true",
                "num_workers": 0, "progress_bar": True},
}


def validate_multimodal(cfg: dict) -> None:
    """Checks across fields (each field's type and range: :mod:`.schema`)."""
    p, f, m = cfg["pretrain"], cfg["finetune"], cfg["model"]
    if int(m["k"]) < 2 or int(m["k"]) % 2:
        raise ConfigError(f"model.k must be even (K/2 complex symbols per device), got {m['k']}")
    if not 0 < int(p["k_shared"]) <= int(m["k"]):
        raise ConfigError(f"pretrain.k_shared must be in [1, model.k={m['k']}], got {p['k_shared']}")
    if int(f["rounds"]) % int(f["eval_every"]):
        raise ConfigError(f"finetune.rounds ({f['rounds']}) must be a positive multiple of eval_every ({f['eval_every']})")
    snrs = f["snr_db"] if isinstance(f["snr_db"], list) else [f["snr_db"]]
    if len(snrs) not in (1, len(cfg["modalities"])):
        raise ConfigError(f"finetune.snr_db lists {len(snrs)} SNRs for {len(cfg['modalities'])} devices")


# --- mfmsc: multi-task systems (`semcom mfmsc`) --------------------------------------------------------------
MFMSC = {
    "seed": 0,
    "arch": "mfmsc",
    "tasks": list(MFMSC_TASKS),
    # Embedded data sizes (instances per task) and input geometry; cache_dir: where spoken phrases are kept.
    # train_size_per_task: training instances of the tasks it names (the others: train_size).
    "data": {"train_size": 1500, "train_size_per_task": {}, "test_size": 400, "text_max_len": 32, "vocab_size": 600,
             "speech_bins": 40, "speech_frames": 160, "video_frames": 8, "video_size": 32, "image_size": 28,
             "cache_dir": None},
    # dim: P; fusion_heads must divide it. symbols_per_token: complex channel uses per sent token.
    # fusion_norm: "post" (BERT, the paper's eq. 11) or "pre" LayerNorm in the fusion layers; fusion_dropout:
    # dropout inside the fusion layers.
    "model": {"dim": 96, "image_width": 32, "text_layers": 2, "speech_channels": [32, 64], "speech_layers": 2,
              "video_layers": 2, "vit_layers": 2, "encoder_heads": 4, "fusion_layers": 6, "fusion_heads": 12,
              "fusion_norm": "post", "fusion_dropout": 0.1, "channel_hidden": 64, "symbols_per_token": 16, "pool_tokens": 2},
    # lr: every task's Adam learning rate unless lr_per_task names it. snr_db: training SNR, one value or a
    # [low, high] range drawn uniformly per instance.
    # warmup_steps: each task's learning rate grows linearly over its first steps.
    "train": {"epochs": 6, "batch_size": 32, "lr": 1.0e-3, "lr_per_task": {"speech_asr": 2.0e-3},
              "warmup_steps": 100, "snr_db": [0.0, 20.0], "channel": "awgn"},
    "eval": {"snr_db": [-5.0, 0.0, 5.0, 10.0, 15.0, 20.0], "channels": ["awgn"], "batch_size": 200},
    "trainer": {"accelerator": "cpu", "devices": 1, "num_nodes": 1, "strategy": "auto", "precision": "32-true",
                "progress_bar": True},
}


def validate_mfmsc(cfg: dict) -> None:
    """Checks across fields (each field's type and range: :mod:`.schema`)."""
    m = cfg["model"]
    if int(m["dim"]) % int(m["fusion_heads"]) or int(m["dim"]) % int(m["encoder_heads"]):
        raise ConfigError(f"model.dim ({m['dim']}) must be divisible by fusion_heads and encoder_heads")
    snr = cfg["train"]["snr_db"]
    if isinstance(snr, list) and snr[0] > snr[1]:
        raise ConfigError(f"train.snr_db must be a number or [low, high], got {snr}")


#: family -> (defaults, check)
SCHEMAS = {"image": (IMAGE, validate_image), "multimodal": (MULTIMODAL, validate_multimodal),
           "mfmsc": (MFMSC, validate_mfmsc)}


def load_config(path: str | Path | None, *overrides: dict | None, family: str = "image") -> dict:
    """A family's config: defaults <- the YAML file at ``path`` (if any) <- each override layer; checked."""
    if family not in SCHEMAS:
        raise ConfigError(f"unknown family {family!r}; known: {', '.join(SCHEMAS)}")
    defaults, check = SCHEMAS[family]
    cfg = layered_config(defaults, path, *overrides)
    cfg = check_schema(family, cfg, f"config {path}" if path is not None else "config")
    check(cfg)
    return cfg
