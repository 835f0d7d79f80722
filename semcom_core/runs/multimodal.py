"""The multi-modal family's recipe: pre-training of the device encoders, fine-tuning over the channel.

A config (:func:`~semcom_core.runs.config.load_config`, family ``multimodal``) names the dataset and
modalities, the network, the channel and SNR of the fine-tuning stage, the augmentations and both stages'
recipes. ``trainer.devices`` > 1 (or several nodes) runs either stage through Lightning's DDP: ``*.batch_size``
is the global batch, split across processes, and the pre-training losses gather every process's features so
they see the global batch's correlations.

Run folders (:mod:`.folder`): a pre-training run holds ``encoders.safetensors`` and ``run.json`` (stage
``pretrain``, the loss per step); a fine-tuning run (stage ``finetune``) is also a bundle
(:mod:`semcom_core.bundles.multimodal`), beside ``history.json`` (test accuracy against rounds and symbols).
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import lightning as L
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch.utils.data import DataLoader

from ..bundles.multimodal import build_system, write_multimodal_bundle
from ..data.multimodal import MultiModalDataset
from ..data.registry import load_multimodal_dataset
from ..methods.multimodal import FinetuneModule, MultiModalSystem, PretrainModule
from .folder import check_launch, logger, read_run, state_to_file, write_run
from .layering import ConfigError

warnings.filterwarnings("ignore", message=r".*does not have many workers.*")


def _trainer(cfg: dict, out_dir: Path, name: str, **kw) -> L.Trainer:
    t = cfg["trainer"]
    # BatchNorm statistics over the global batch where torch supports it (SyncBatchNorm needs GPUs)
    several = t["devices"] not in (1, "1") or int(t["num_nodes"]) > 1
    sync_bn = several and cfg["model"]["norm"] == "batch" and t["accelerator"] != "cpu"
    return L.Trainer(accelerator=t["accelerator"], devices=t["devices"], num_nodes=t["num_nodes"],
                     strategy=t["strategy"], precision=t["precision"], sync_batchnorm=sync_bn,
                     default_root_dir=str(out_dir), logger=logger(out_dir, name),
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


def labelled_indices(labels: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """A stratified subset: round(fraction * count) samples of every class, drawn with the seed."""
    g = torch.Generator().manual_seed(seed)
    keep = []
    for c in labels.unique():
        idx = (labels == c).nonzero().flatten()
        keep.append(idx[torch.randperm(len(idx), generator=g)[:max(1, round(fraction * len(idx)))]])
    return torch.cat(keep).sort().values


def pretrain_run(cfg: dict, out_dir: str | Path) -> Path:
    """Stage I: pre-train the device encoders without labels; writes encoders.safetensors, pretrain.json."""
    check_launch(cfg["trainer"])
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
    norm_before = weight_norm(system.encoders)
    print(f"pretrain: {p['method']} on {train.name} ({', '.join(train.modalities)}), {len(train)} samples, "
          f"{p['epochs']} epochs = {steps} steps, {world_size(trainer)} process(es)")
    trainer.fit(module, loader)
    if trainer.is_global_zero:
        out_dir.mkdir(parents=True, exist_ok=True)
        state_to_file(system.encoders, out_dir / "encoders.safetensors")
        info = write_run(out_dir, "multimodal", p["method"], cfg, stage="pretrain", losses=module.losses,
                         steps=len(module.losses), processes=world_size(trainer),
                         seconds=round(time.time() - started, 1),
                         weight_norm={"start": norm_before, "end": weight_norm(system.encoders)})
        norms = info["weight_norm"]
        print(f"pretrain: done in {info['seconds']} s, final loss {module.losses[-1]:.3f}, encoder weight norm "
              f"{norms['start']:.1f} -> {norms['end']:.1f}; {out_dir}")
    return out_dir


def weight_norm(module: torch.nn.Module) -> float:
    """L2 norm of all the convolution and linear weights: BatchNorm hides their scale from the outputs, but
    fine-tuning's effective learning rate falls with its square, so pre-training must not inflate it."""
    with torch.no_grad():
        squares = [float((m.weight ** 2).sum()) for m in module.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    return round(sum(squares) ** 0.5, 3)


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
    check_launch(cfg["trainer"])
    out_dir, f = Path(out_dir), cfg["finetune"]
    started = time.time()
    L.seed_everything(cfg["seed"], workers=True, verbose=False)
    train, test = load_data(cfg, "train"), load_data(cfg, "test")
    system = build_system(cfg, len(train.classes))
    if pretrained is not None:
        load_pretrained(system, pretrained)
    method = method or (read_run(pretrained)["method"] if pretrained else "supervised")
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
        seconds = round(time.time() - started, 1)
        card = {"method": method, "num_classes": len(train.classes), "classes": train.classes,
                "snr_db": module.snr_db, "symbols_per_sample": system.symbols_per_sample,
                "metrics": {"accuracy": module.history[-1]["accuracy"]}, "rounds": module.rounds,
                "symbols": module.symbols, "seconds": seconds}
        write_multimodal_bundle(out_dir, system, cfg, card)
        (out_dir / "history.json").write_text(json.dumps(module.history) + "\n")
        facts = {k: v for k, v in card.items() if k != "method"}
        write_run(out_dir, "multimodal", method, cfg, stage="finetune", pretrained=str(pretrained or ""), **facts)
        print(f"finetune: done in {time.time() - started:.0f} s, accuracy {module.history[-1]['accuracy']:.4f} "
              f"after {module.rounds} rounds ({module.symbols} symbols); {out_dir}")
    return out_dir


@torch.no_grad()
def encoder_features(system: MultiModalSystem, data: MultiModalDataset, augment: dict | None,
                     batch_size: int = 500) -> list[torch.Tensor]:
    """Every device's K-dim features of every sample [N, K] (eval mode, no channel, centre-cropped)."""
    from ..data.augment import EvalTransform

    system.eval()
    transform = EvalTransform(augment) if augment else None
    parts = []
    for start in range(0, len(data), batch_size):
        xs, _ = data.batch(range(start, min(start + batch_size, len(data))))
        parts.append(system.encode(transform(xs) if transform is not None else xs))
    return [torch.cat(p) for p in zip(*parts)]


def probe_pretrained(cfg: dict, run_dir: str | Path) -> dict:
    """Linear probes of the pre-trained encoders against the same probe on randomly initialised ones.

    Per modality and for all modalities together: test accuracy of a logistic regression on the frozen
    features (the train split fits it, the test split scores it). The random encoders are those training
    would start from (same seed). Written to ``probe.json`` in the run folder and returned.
    """
    from ..metrics.linear_probe import linear_probe_accuracy

    run_dir = Path(run_dir)
    train, test = load_data(cfg, "train"), load_data(cfg, "test")
    augment = cfg["augment"]
    systems = {}
    for kind in ("random", "pretrained"):
        L.seed_everything(cfg["seed"], workers=True, verbose=False)
        systems[kind] = build_system(cfg, len(train.classes))
    load_pretrained(systems["pretrained"], run_dir)
    result = {"method": read_run(run_dir)["method"], "seed": cfg["seed"], "dataset": train.name,
              "train_samples": len(train), "test_samples": len(test), "probe": {}}
    for kind, system in systems.items():
        fit, score = encoder_features(system, train, augment), encoder_features(system, test, augment)
        groups = {m: [i] for i, m in enumerate(system.modalities)}
        if len(system.modalities) > 1:
            groups["+".join(system.modalities)] = list(range(len(system.modalities)))
        for name, idx in groups.items():
            acc = linear_probe_accuracy(torch.cat([fit[i] for i in idx], 1), train.labels,
                                        torch.cat([score[i] for i in idx], 1), test.labels)
            result["probe"].setdefault(name, {})[kind] = round(acc, 4)
    (run_dir / "probe.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


@torch.no_grad()
def evaluate_system(system: MultiModalSystem, data: MultiModalDataset, snr_db, augment: dict | None = None,
                    batch_size: int = 500, seed: int = 0) -> float:
    """Test accuracy of a fine-tuned system over its channel at snr_db (one number or one per device)."""
    from ..data.augment import EvalTransform

    torch.manual_seed(seed)
    transform = EvalTransform(augment) if augment else None
    correct = 0
    for start in range(0, len(data), batch_size):
        xs, labels = data.batch(range(start, min(start + batch_size, len(data))))
        if transform is not None:
            xs = transform(xs)
        correct += int((system(xs, snr_db).argmax(1) == labels).sum())
    return correct / len(data)
