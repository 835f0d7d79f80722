"""Runs of the multi-modal system: pre-training, fine-tuning over the channel, bundles.

A config (YAML, unknown keys rejected) names the dataset and modalities, the network, the channel and SNR of
the fine-tuning stage, the augmentations and both stages' recipes. `trainer.devices` > 1 (or several nodes)
runs either stage through Lightning's DDP: `*.batch_size` is the global batch, split across processes, and
the pre-training losses gather every process's features so they see the global batch's correlations.

A pre-training run folder holds `encoders.safetensors` and `pretrain.json` (config, loss per step, time).
A fine-tuning run folder is a bundle: `weights.safetensors` and `card.json` (modalities, network, channel,
SNR, accuracy, rounds and symbols), beside `history.json` (test accuracy against rounds and symbols).
"""

from __future__ import annotations

import datetime
import json
import shlex
import sys
import time
import warnings
from pathlib import Path

import lightning as L
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader

from . import __version__
from .config import ConfigError, layered_config
from .data.multimodal import MultiModalDataset, load_multimodal_dataset
from .methods.multimodal import PRETRAIN_METHODS, FinetuneModule, MultiModalSystem, PretrainModule

DEFAULTS = {
    "seed": 0,
    "dataset": {"name": "rgbd-scenes", "root": None, "size": 32, "train_size": 2000, "test_size": 1000},
    "modalities": ["rgb", "depth"],
    "model": {"k": 64, "width": 64, "norm": "batch", "server_hidden": 256},
    "channel": {"name": "awgn"},
    "augment": {"resize": None, "crop": 32, "scale": [0.5, 1.0], "flip": True, "color_jitter": 0.4,
                "grayscale": 0.2, "blur": 0.5, "depth_scale": 0.1, "depth_noise": 0.01},
    # No communication in pre-training (Algorithm 1). k_shared: K_sha of eq. 13-14. lam_*: lambda_m, lambda_sha,
    # lambda_uni; tau: SimCLR's temperature. center: correlations on batch-centred features (Pearson).
    "pretrain": {"method": "proposed", "epochs": 20, "batch_size": 128, "optimizer": "sgd", "lr": 0.05,
                 "momentum": 0.9, "weight_decay": 1.0e-4, "k_shared": 48, "lam_intra": 0.005,
                 "lam_shared": 0.005, "lam_unique": 0.005, "tau": 0.2, "center": True, "augment": True,
                 "shuffle": True},
    # snr_db: each device's SNR, one number for all or a list (one per modality). label_fraction: the share of
    # training labels used (stratified by class). eval_every: rounds between test-accuracy points.
    "finetune": {"rounds": 300, "batch_size": 64, "optimizer": "sgd", "lr": 0.01, "momentum": 0.9,
                 "weight_decay": 5.0e-4, "snr_db": 10.0, "label_fraction": 1.0, "eval_every": 10,
                 "augment": True},
    "trainer": {"accelerator": "cpu", "devices": 1, "num_nodes": 1, "strategy": "auto", "precision": "32-true",
                "num_workers": 0, "progress_bar": True},
}

CARD_FORMAT = "semcom-multimodal/1"
warnings.filterwarnings("ignore", message=r".*does not have many workers.*")


def load_mm_config(path: str | Path | None, *overrides: dict | None) -> dict:
    """Defaults <- the YAML file (if any) <- override layers; validated."""
    cfg = layered_config(DEFAULTS, path, *overrides)
    validate_mm(cfg)
    return cfg


def validate_mm(cfg: dict) -> None:
    p, f, m = cfg["pretrain"], cfg["finetune"], cfg["model"]
    if p["method"] not in PRETRAIN_METHODS:
        raise ConfigError(f"pretrain.method must be one of {', '.join(PRETRAIN_METHODS)}, got {p['method']!r}")
    if int(m["k"]) < 2 or int(m["k"]) % 2:
        raise ConfigError(f"model.k must be even (K/2 complex symbols per device), got {m['k']}")
    if not 0 < int(p["k_shared"]) <= int(m["k"]):
        raise ConfigError(f"pretrain.k_shared must be in [1, model.k={m['k']}], got {p['k_shared']}")
    if not 0 < float(f["label_fraction"]) <= 1:
        raise ConfigError(f"finetune.label_fraction must be in (0, 1], got {f['label_fraction']}")
    if int(f["rounds"]) < 1 or int(f["rounds"]) % int(f["eval_every"]):
        raise ConfigError(f"finetune.rounds ({f['rounds']}) must be a positive multiple of eval_every ({f['eval_every']})")
    snrs = f["snr_db"] if isinstance(f["snr_db"], list) else [f["snr_db"]]
    if len(snrs) not in (1, len(cfg["modalities"])):
        raise ConfigError(f"finetune.snr_db lists {len(snrs)} SNRs for {len(cfg['modalities'])} devices")
    for stage in (p, f):
        if stage["optimizer"] not in ("sgd", "adam"):
            raise ConfigError(f"optimizer must be 'sgd' or 'adam', got {stage['optimizer']!r}")


def _trainer(cfg: dict, out_dir: Path, name: str, **kw) -> L.Trainer:
    t = cfg["trainer"]
    # BatchNorm statistics over the global batch where torch supports it (SyncBatchNorm needs GPUs)
    several = t["devices"] not in (1, "1") or int(t["num_nodes"]) > 1
    sync_bn = several and cfg["model"]["norm"] == "batch" and t["accelerator"] != "cpu"
    return L.Trainer(accelerator=t["accelerator"], devices=t["devices"], num_nodes=t["num_nodes"],
                     strategy=t["strategy"], precision=t["precision"], sync_batchnorm=sync_bn,
                     default_root_dir=str(out_dir), logger=L.pytorch.loggers.CSVLogger(str(out_dir), name=name),
                     enable_checkpointing=False, enable_model_summary=False, log_every_n_steps=10,
                     enable_progress_bar=bool(t["progress_bar"]), **kw)


def world_size(trainer: L.Trainer) -> int:
    return trainer.num_devices * trainer.num_nodes


def _per_process_batch(trainer: L.Trainer, batch_size: int) -> int:
    size = world_size(trainer)
    if batch_size % size:
        raise ConfigError(f"batch size {batch_size} does not split evenly over {size} processes")
    return batch_size // size


def load_data(cfg: dict, split: str, modalities: list[str] | None = None) -> MultiModalDataset:
    """The config's dataset split with the config's modalities (or the ones named), in that order."""
    d = cfg["dataset"]
    data = load_multimodal_dataset(d["name"], split, root=d["root"], size=d["size"],
                                   train_size=d["train_size"], test_size=d["test_size"], seed=cfg["seed"])
    return data.select(modalities or cfg["modalities"])


def build_system(cfg: dict, num_classes: int) -> MultiModalSystem:
    m = cfg["model"]
    return MultiModalSystem(cfg["modalities"], int(m["k"]), num_classes, int(m["width"]), m["norm"],
                            int(m["server_hidden"]), dict(cfg["channel"]))


def labelled_indices(labels: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """A stratified subset: round(fraction * count) samples of every class, drawn with the seed."""
    g = torch.Generator().manual_seed(seed)
    keep = []
    for c in labels.unique():
        idx = (labels == c).nonzero().flatten()
        keep.append(idx[torch.randperm(len(idx), generator=g)[:max(1, round(fraction * len(idx)))]])
    return torch.cat(keep).sort().values


def _command() -> str:
    return " ".join(shlex.quote(a) for a in ["semcom", *sys.argv[1:]])


def pretrain_run(cfg: dict, out_dir: str | Path) -> Path:
    """Stage I: pre-train the device encoders without labels; writes encoders.safetensors, pretrain.json."""
    out_dir, p = Path(out_dir), cfg["pretrain"]
    started = time.time()
    L.seed_everything(cfg["seed"], workers=True, verbose=False)
    train = load_data(cfg, "train")
    system = build_system(cfg, len(train.classes))
    trainer = _trainer(cfg, out_dir, "pretrain", max_epochs=int(p["epochs"]))
    loader = DataLoader(train, batch_size=_per_process_batch(trainer, int(p["batch_size"])),
                        shuffle=bool(p["shuffle"]), drop_last=True, num_workers=cfg["trainer"]["num_workers"])
    steps = int(p["epochs"]) * (len(train) // int(p["batch_size"]))
    module = PretrainModule(system, p, cfg["augment"] if p["augment"] else None, steps)
    print(f"pretrain: {p['method']} on {train.name} ({', '.join(train.modalities)}), {len(train)} samples, "
          f"{p['epochs']} epochs = {steps} steps, {world_size(trainer)} process(es)")
    trainer.fit(module, loader)
    if trainer.is_global_zero:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in system.encoders.state_dict().items()},
                  str(out_dir / "encoders.safetensors"))
        info = {"config": cfg, "method": p["method"], "losses": module.losses, "steps": len(module.losses),
                "processes": world_size(trainer), "seconds": round(time.time() - started, 1), "command": _command()}
        (out_dir / "pretrain.json").write_text(json.dumps(info, indent=1) + "\n")
        print(f"pretrain: done in {info['seconds']} s, final loss {module.losses[-1]:.3f}; {out_dir}")
    return out_dir


def load_pretrained(system: MultiModalSystem, run_dir: str | Path) -> None:
    path = Path(run_dir) / "encoders.safetensors"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run `semcom multimodal pretrain` into {run_dir} first")
    try:
        system.encoders.load_state_dict(load_file(str(path)))
    except (RuntimeError, SafetensorError) as err:
        raise ValueError(f"{path} does not fit this system's encoders ({str(err).splitlines()[0]})") from err


def finetune_run(cfg: dict, out_dir: str | Path, pretrained: str | Path | None = None, method: str | None = None) -> Path:
    """Stage II: fine-tune encoders and server through the channel; the run folder is a bundle."""
    out_dir, f = Path(out_dir), cfg["finetune"]
    started = time.time()
    L.seed_everything(cfg["seed"], workers=True, verbose=False)
    train, test = load_data(cfg, "train"), load_data(cfg, "test")
    system = build_system(cfg, len(train.classes))
    if pretrained is not None:
        load_pretrained(system, pretrained)
    method = method or (json.loads((Path(pretrained) / "pretrain.json").read_text())["method"]
                        if pretrained else "supervised")
    labelled = train.subset(labelled_indices(train.labels, float(f["label_fraction"]), cfg["seed"]))
    trainer = _trainer(cfg, out_dir, "finetune", max_steps=int(f["rounds"]), max_epochs=-1,
                       val_check_interval=int(f["eval_every"]), check_val_every_n_epoch=None,
                       num_sanity_val_steps=0)
    loader = DataLoader(labelled, batch_size=_per_process_batch(trainer, int(f["batch_size"])), shuffle=True,
                        drop_last=True, num_workers=cfg["trainer"]["num_workers"])
    test_loader = DataLoader(test, batch_size=500, num_workers=cfg["trainer"]["num_workers"])
    module = FinetuneModule(system, f, cfg["augment"] if f["augment"] else None, f["snr_db"])
    print(f"finetune: {method}, {', '.join(train.modalities)} at {module.snr_db} dB, {len(labelled)} labelled "
          f"samples ({f['label_fraction']:.0%}), {f['rounds']} rounds")
    trainer.fit(module, loader, test_loader)
    if trainer.is_global_zero:
        write_bundle(out_dir, system, cfg, method, module, train, round(time.time() - started, 1))
        print(f"finetune: done in {time.time() - started:.0f} s, accuracy {module.history[-1]['accuracy']:.4f} "
              f"after {module.rounds} rounds ({module.symbols} symbols); {out_dir}")
    return out_dir


def write_bundle(out_dir: Path, system, cfg, method, module: FinetuneModule, data, seconds: float) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in system.state_dict().items()},
              str(out_dir / "weights.safetensors"))
    card = {"format": CARD_FORMAT, "method": method, "modalities": system.modalities, "model": cfg["model"],
            "num_classes": len(data.classes), "classes": data.classes, "dataset": cfg["dataset"],
            "channel": cfg["channel"], "snr_db": module.snr_db, "augment": cfg["augment"],
            "label_fraction": cfg["finetune"]["label_fraction"], "symbols_per_sample": system.symbols_per_sample,
            "metrics": {"accuracy": module.history[-1]["accuracy"]}, "rounds": module.rounds,
            "symbols": module.symbols, "seconds": seconds, "config": cfg, "command": _command(),
            "code_version": __version__, "created": datetime.datetime.now(datetime.timezone.utc).isoformat()}
    (out_dir / "card.json").write_text(json.dumps(card, indent=1) + "\n")
    (out_dir / "history.json").write_text(json.dumps(module.history) + "\n")


def load_multimodal_bundle(path: str | Path) -> tuple[MultiModalSystem, dict]:
    """(system in eval mode, card) from a fine-tuning run folder; every problem is a BundleError."""
    from .bundle import BundleError, read_card

    path = Path(path)
    card = read_card(path, CARD_FORMAT, ("format", "method", "config", "num_classes", "modalities"))
    try:
        system = build_system(card["config"], int(card["num_classes"]))
        system.load_state_dict(load_file(str(path / "weights.safetensors")))
    except (KeyError, ValueError) as err:
        raise BundleError(f"{path}/card.json is incomplete or inconsistent ({err})") from err
    except (FileNotFoundError, RuntimeError, SafetensorError, OSError) as err:
        raise BundleError(f"{path}/weights.safetensors is missing, corrupt or does not fit the card "
                          f"({str(err).splitlines()[0]})") from err
    return system.eval(), card


def check_bundle_data(card: dict, data: MultiModalDataset) -> None:
    """The data must offer the bundle's devices, in its order, at its channel counts."""
    from .bundle import BundleError

    if list(data.modalities) != list(card["modalities"]):
        raise BundleError(f"the bundle has {len(card['modalities'])} devices ({', '.join(card['modalities'])}) "
                          f"but the data has {len(data.modalities)} modalities ({', '.join(data.modalities)})")
    if len(data.classes) != int(card["num_classes"]):
        raise BundleError(f"the bundle classifies {card['num_classes']} classes, the data has {len(data.classes)}")


@torch.no_grad()
def evaluate_system(system: MultiModalSystem, data: MultiModalDataset, snr_db, augment: dict | None = None,
                    batch_size: int = 500, seed: int = 0) -> float:
    """Test accuracy of a fine-tuned system over its channel at snr_db (one number or one per device)."""
    from .data.augment import EvalTransform

    torch.manual_seed(seed)
    transform = EvalTransform(augment) if augment else None
    correct = 0
    for start in range(0, len(data), batch_size):
        xs, labels = data.batch(range(start, min(start + batch_size, len(data))))
        if transform is not None:
            xs = transform(xs)
        correct += int((system(xs, snr_db).argmax(1) == labels).sum())
    return correct / len(data)
