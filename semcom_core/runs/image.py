"""The image family's recipe (DeepJSCC, DeepSC, SemCC, SemRE, MIJSCC, A-MIJSCC): the downstream
classifier, then the method stage by stage, from one config.

The run folder (:mod:`.folder`) holds ``classifier.safetensors``, ``transceiver.safetensors`` (and after an
intermediate stage ``transceiver.<stage>.safetensors``), ``method.safetensors`` (everything the method
trains) and ``run.json`` with the encoder, decoder and classifier specs. ``semcom export`` turns it into a
bundle (:mod:`.export`).
"""

from __future__ import annotations

import copy
import os
import shutil
import time
import warnings
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Checkpoint, EarlyStopping
import torch
from safetensors.torch import load_file
from torch.utils.data import DataLoader, Subset

from ..bundles import load_part
from ..data import dataset_info, load_dataset
from ..link import Transceiver
from ..methods import METHODS, ClassifierModule
from ..methods.base import monitor_mode
from ..models import build_model
from .config import ConfigError
from .folder import check_launch, logger, read_run, say, state_to_file, write_run
from .resume import RunProgress


def split(cfg: dict):
    """(full training set, training subset, validation subset) of a config's dataset, seeded."""
    ds_cfg = cfg["dataset"]
    full = load_dataset(ds_cfg["name"], "train", root=ds_cfg["root"])
    order = torch.randperm(len(full), generator=torch.Generator().manual_seed(cfg["seed"])).tolist()
    val_size = min(int(ds_cfg["val_size"]), len(full) // 5)
    train_order = order[val_size:]
    if ds_cfg.get("train_size"):
        train_order = train_order[:int(ds_cfg["train_size"])]
    return full, Subset(full, train_order), Subset(full, order[:val_size])


def _loaders(train, val, batch_size: int, workers: int):
    return (DataLoader(train, batch_size=batch_size, shuffle=True, drop_last=True, num_workers=workers),
            DataLoader(val, batch_size=512, num_workers=workers))


# Frozen downstream models and SemRE's re-encoder stay in eval mode on purpose.
warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")


class KeepBest(L.Callback):
    """Remembers the weights (and validation metrics) of the epoch with the best monitored value and puts
    them back when fitting ends, so that a stage ends on its best epoch, not its last."""

    def __init__(self, monitor: str):
        self.monitor, self.mode = monitor, monitor_mode(monitor)
        self.best, self.best_epoch, self.metrics, self._state = None, None, {}, None

    def on_validation_end(self, trainer, module):
        value = trainer.callback_metrics.get(self.monitor)
        if trainer.sanity_checking or value is None or not torch.isfinite(value):
            return
        value = float(value)
        if self.best is None or (value < self.best if self.mode == "min" else value > self.best):
            self.best, self.best_epoch = value, trainer.current_epoch + 1
            self.metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
            self._state = {k: v.detach().clone() for k, v in module.state_dict().items()}

    def on_fit_end(self, trainer, module):
        if self._state is not None:
            module.load_state_dict(self._state)

    def state_dict(self) -> dict:   # kept in the epoch checkpoints of a resumable run
        return {"best": self.best, "best_epoch": self.best_epoch, "metrics": self.metrics, "state": self._state}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch, self.metrics, self._state = (state["best"], state["best_epoch"], state["metrics"],
                                                                 state["state"])


def _trainer(cfg: dict, out_dir: Path, name: str, max_epochs: int, callbacks=()) -> L.Trainer:
    t = cfg["trainer"]
    return L.Trainer(max_epochs=max_epochs, accelerator=t["accelerator"], devices=t["devices"],
                     num_nodes=t["num_nodes"], strategy=t["strategy"], precision=t["precision"], limit_train_batches=t["limit_train_batches"],
                     default_root_dir=str(out_dir), logger=logger(out_dir, name),
                     enable_model_summary=False, log_every_n_steps=20,
                     enable_checkpointing=any(isinstance(c, Checkpoint) for c in callbacks),
                     enable_progress_bar=bool(t["progress_bar"]), callbacks=list(callbacks))


class _EarlyStopping(EarlyStopping):
    """Lightning's early stopping, except that a resumed stage keeps the config's patience rather than the
    checkpoint's (the fingerprint leaves patience out, so a run may be resumed with more of it)."""

    @property
    def state_key(self) -> str:
        """Lightning's own key, so that a checkpoint written by either class resumes into the other."""
        return f"EarlyStopping{ {'monitor': self.monitor, 'mode': self.mode}!r}"

    def load_state_dict(self, state_dict: dict) -> None:
        patience = self.patience
        super().load_state_dict(state_dict)
        self.patience = patience


def _stage_callbacks(cfg: dict) -> list:
    """Early stopping on the monitored validation value (when ``trainer.patience`` is set) and the best
    epoch's weights kept."""
    t = cfg["trainer"]
    if t["patience"] is None:
        return []
    return [_EarlyStopping(monitor=t["monitor"], mode=monitor_mode(t["monitor"]), patience=int(t["patience"]),
                          min_delta=float(t["min_delta"])),
            KeepBest(t["monitor"])]


def trained_part(method) -> torch.nn.Module:
    """Everything a method trains (transceiver and its own extra networks), without the frozen
    downstream classifier: what `method.safetensors` holds."""
    part = torch.nn.Module()
    for name, child in method.named_children():
        if name != "downstream":
            part.add_module(name, child)
    return part


def init_from_run(method, run_dir: Path) -> None:
    """Start from another run's weights: every tensor whose name and shape match is loaded; the rest
    (networks this method adds) keeps its initialisation. Refuses when nothing of the transceiver fits."""
    tensors = load_file(str(run_dir / "method.safetensors"))
    own = trained_part(method).state_dict()
    fits = {k: v for k, v in tensors.items() if k in own and own[k].shape == v.shape}
    if not any(k.startswith("transceiver.") for k in fits):
        raise ValueError(f"init_from {run_dir}: its weights do not fit this method's transceiver")
    trained_part(method).load_state_dict(fits, strict=False)
    new = sorted({k.split(".")[0] for k in own if k not in fits})
    say(f"train: initialised from {run_dir} ({len(fits)} tensors){'; new: ' + ', '.join(new) if new else ''}")


def classifier_spec(cfg: dict, image_shape, num_classes: int) -> dict:
    c = cfg["classifier"]
    spec = {"arch": c["arch"], "in_channels": image_shape[0], "num_classes": num_classes}
    if c["arch"] == "resnet_cifar":
        spec["depth"] = c["depth"]
    if c.get("width") is not None:
        spec["width"] = c["width"]
    return spec


def train_classifier(cfg: dict, full, train, val, out_dir: Path) -> tuple[torch.nn.Module, dict, dict]:
    c = cfg["classifier"]
    spec = classifier_spec(cfg, full.image_shape, len(full.classes))
    module = ClassifierModule(spec, lr=c["lr"], max_epochs=c["max_epochs"], augment=c["augment"])
    if c["checkpoint"]:
        try:
            module.net.load_state_dict(load_file(str(c["checkpoint"])))
        except (FileNotFoundError, RuntimeError) as err:
            raise ValueError(f"classifier checkpoint {c['checkpoint']} does not fit a {c['arch']} "
                             f"classifier ({str(err).splitlines()[0]})") from err
        say(f"train: classifier loaded from {c['checkpoint']}")
    else:
        say(f"train: classifier {c['arch']} for {c['max_epochs']} epochs")
        train_dl, val_dl = _loaders(train, val, c["batch_size"], cfg["trainer"]["num_workers"])
        _trainer(cfg, out_dir, "classifier", c["max_epochs"]).fit(module, train_dl, val_dl)
    module.eval()
    val_dl = DataLoader(val, batch_size=512)
    with torch.no_grad():
        correct = sum((module.net(x).argmax(1) == y).sum().item() for x, y in val_dl)
    return module.net, spec, {"classifier_val_accuracy": correct / len(val)}


def check_compile(trainer: dict) -> None:
    """``trainer.compile`` on the CPU needs a C++ compiler (torch.compile's CPU backend builds its kernels):
    refuse before anything trains rather than at the first step."""
    on_cpu = trainer["accelerator"] == "cpu" or (trainer["accelerator"] == "auto" and not torch.cuda.is_available())
    compiler = os.environ.get("CXX", "g++")
    if trainer["compile"] and on_cpu and shutil.which(compiler) is None:
        raise ConfigError(f"trainer.compile needs a C++ compiler on the CPU ({compiler!r} not found; set CXX or "
                          "install g++), or set trainer.compile: false")


def build_method(cfg: dict, image_shape):
    """The method's LightningModule from a config (raises before any data is read)."""
    if cfg["method"] not in METHODS:
        raise ValueError(f"unknown method {cfg['method']!r}; known: {', '.join(METHODS)}")
    o = cfg["optimizer"]
    return METHODS[cfg["method"]](
        image_shape=tuple(image_shape), ratio=cfg["ratio"], width=cfg["model"]["width"], q=cfg["quant_bits"],
        channel=dict(cfg["channel"]), train_snr_db=cfg["train_snr_db"], val_snr_db=cfg["val_snr_db"],
        lr=o["lr"], step_epochs=o["step_epochs"], gamma=o["gamma"], epochs=cfg["trainer"]["max_epochs"],
        loss=dict(cfg["loss"]), finetune=dict(cfg["finetune"]), schedule=o["schedule"],
        plateau_patience=o["plateau_patience"], monitor=cfg["trainer"]["monitor"])


def train_run(cfg: dict, out_dir: str | Path, command: str | None = None) -> Path:
    """Train the classifier (unless given) and the method, stage by stage; write the run folder.

    An interrupted run resumes from its last finished epoch when trained again into the same folder with
    the same config (:mod:`.resume`)."""
    check_launch(cfg["trainer"])
    check_compile(cfg["trainer"])
    out_dir = Path(out_dir)
    started = time.time()
    L.seed_everything(cfg["seed"], workers=True)
    method = build_method(cfg, dataset_info(cfg["dataset"]["name"])["image_shape"])  # fails before any training
    full, train, val = split(cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    progress = RunProgress(out_dir, cfg)
    classifier_cfg = cfg
    if progress.started and (out_dir / "classifier.safetensors").is_file():   # the classifier of the first attempt
        classifier_cfg = {**cfg, "classifier": {**cfg["classifier"],
                                                "checkpoint": str(out_dir / "classifier.safetensors")}}
    classifier, spec, metrics = train_classifier(classifier_cfg, full, train, val, out_dir)
    state_to_file(classifier, out_dir / "classifier.safetensors")
    method.attach_downstream(classifier)
    if cfg["init_from"]:
        init_from_run(method, Path(cfg["init_from"]))

    t = cfg["trainer"]
    if t["compile"]:
        method.compile_loss()
    train_dl, val_dl = _loaders(train, val, t["batch_size"], t["num_workers"])
    plan = method.stages()
    done = progress.restore_finished_stages(method)
    for stage_record in progress.stages:
        metrics.update(stage_record["val_metrics"])
    for number, stage in enumerate(plan, 1):
        if number <= done:
            continue
        method.stage = stage.name
        resume_from = progress.checkpoint(number)
        say(f"train: {cfg['method']} stage {stage.name}: k={method.transceiver.k} (k/n={cfg['ratio']:.4f}), "
            f"{stage.epochs} epochs at lr {stage.lr:g}" + (f"; resuming from {resume_from}" if resume_from else ""))
        callbacks = _stage_callbacks(cfg)
        trainer = _trainer(cfg, out_dir, f"{cfg['method']}-{stage.name}", stage.epochs,
                           [*callbacks, progress.callback(number)])
        stage_started = time.time()
        trainer.fit(method, train_dl, val_dl, ckpt_path=str(resume_from) if resume_from else None)
        if number < len(plan):  # weights after an intermediate stage (SemCC's "w/o FT" ablation)
            state_to_file(method.transceiver, out_dir / f"transceiver.{stage.name}.safetensors")
        stage_metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
        record = {"name": stage.name, "epochs": stage.epochs, "lr": stage.lr, "epochs_run": trainer.current_epoch,
                  "seconds": round(time.time() - stage_started, 1), **({"resumed": True} if resume_from else {})}
        keep = next((c for c in callbacks if isinstance(c, KeepBest)), None)
        if keep is not None and keep.best_epoch is not None:   # the weights kept are the best epoch's
            stage_metrics = keep.metrics
            record.update(best_epoch=keep.best_epoch, monitor=keep.monitor, best=keep.best,
                          stopped_early=trainer.current_epoch < stage.epochs)
            say(f"train: stage {stage.name} kept epoch {keep.best_epoch} of {trainer.current_epoch} "
                  f"({keep.monitor} {keep.best:.4g})")
        progress.stage_done(number, {**record, "val_metrics": stage_metrics}, method)
        metrics.update(stage_metrics)
    state_to_file(method.transceiver, out_dir / "transceiver.safetensors")
    state_to_file(trained_part(method), out_dir / "method.safetensors")

    write_run(out_dir, "image", cfg["method"], cfg, command, k=method.transceiver.k,
              encoder_spec=method.transceiver.encoder_spec, decoder_spec=method.transceiver.decoder_spec,
              classifier_spec=spec, image_shape=list(full.image_shape), stages=progress.stages, metrics=metrics,
              seconds=round(progress.seconds, 1))
    progress.discard()
    say(f"train: done in {time.time() - started:.0f} s ({progress.seconds:.0f} s over every attempt); run folder {out_dir}")
    return out_dir


def load_run(run_dir: str | Path, stage: str | None = None):
    """(run, transceiver, classifier) of a finished run, in eval mode; ``stage`` picks the weights saved
    after that stage (e.g. SemCC's "pretrain")."""
    run_dir = Path(run_dir)
    run = read_run(run_dir)
    transceiver = Transceiver(run["encoder_spec"], run["decoder_spec"], run["k"], run["config"]["quant_bits"])
    last_stage = run["stages"][-1]["name"] if run.get("stages") else None
    final = stage is None or stage == last_stage
    weights = run_dir / ("transceiver.safetensors" if final else f"transceiver.{stage}.safetensors")
    if not weights.is_file():
        raise FileNotFoundError(f"{run_dir} has no {weights.name} (stages run: "
                                f"{', '.join(s['name'] for s in run.get('stages', [])) or 'unknown'})")
    state = load_file(str(weights))
    for name in ("encoder", "decoder"):
        load_part(getattr(transceiver, name),
                  {k[len(name) + 1:]: v for k, v in state.items() if k.startswith(name + ".")}, name, run_dir)
    if "codec.power" in state and transceiver.q is not None:   # the running mean kept in training
        transceiver.codec.load_state_dict({"power": state["codec.power"]})
    classifier = build_model(run["classifier_spec"])
    classifier.load_state_dict(load_file(str(run_dir / "classifier.safetensors")))
    return run, transceiver.eval(), classifier.eval()


def load_method(run_dir: str | Path, channel: dict | None = None, **test_change):
    """A trained method (LightningModule) from its run folder, in eval mode, with its downstream
    classifier; ``channel`` updates the training channel (to evaluate on another one), and
    ``quant_bits=`` replaces the trained quantiser by another q (analog stays analog)."""
    run = read_run(run_dir)
    cfg = copy.deepcopy(run["config"])
    if channel is not None:
        cfg["channel"] = {**cfg["channel"], **channel}
    if set(test_change) - {"quant_bits"}:
        raise TypeError(f"load_method: only quant_bits can be changed at test, got {sorted(test_change)}")
    if "quant_bits" in test_change and (test_change["quant_bits"] is None) != (cfg["quant_bits"] is None):
        raise ConfigError(f"{run_dir} was trained with quant_bits={cfg['quant_bits']}: it can be tested with another "
                          "q, but not across analog and quantised (the decoder reads a quantised latent in its own "
                          "units, an analog one as power-normalised symbols)")
    cfg.update(test_change)
    method = build_method(cfg, run["image_shape"])
    trained_part(method).load_state_dict(load_file(str(Path(run_dir) / "method.safetensors")), strict=False)
    classifier = build_model(run["classifier_spec"])
    classifier.load_state_dict(load_file(str(Path(run_dir) / "classifier.safetensors")))
    method.attach_downstream(classifier)
    return method.eval(), cfg
