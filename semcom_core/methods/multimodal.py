"""Multi-modal edge inference (Zhao et al., Sec. II-III): M devices, one per modality, and a server.

Device m encodes its sample into a K-dim feature z^m = f^m(x^m) (eq. 1), a ResNet-18. The K real values
travel as K/2 complex channel symbols of unit average power over the device's own channel, y = h z + n at the
device's SNR (eq. 2), and are equalised back to K reals. The server concatenates the M received features
(eq. 3) and classifies them with g, a small MLP (eq. 4).

Training has two stages (Algorithm 1):
- :class:`PretrainModule`: the encoders alone, without labels and without communication, with the proposed
  decoupled loss (eq. 7-14), SimCLR (eq. 18) or Barlow Twins (eq. 19), the latter two per modality.
- :class:`FinetuneModule`: encoders and server together with cross entropy (eq. 16) through the channel.
  One *round* is one optimiser step: a forward pass of every device's features of the global batch to the
  server and a backward pass of their gradients to the devices. The module counts rounds and the channel
  symbols exchanged (features up and gradients down, K/2 complex symbols per sample and device each way;
  gradients are returned error-free) and records test accuracy against both.
"""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from ..channels import make_channel
from ..data.augment import EvalTransform, MultiModalAugment
from ..losses.correlation import barlow_twins_per_modality, decoupled_loss, gather_batch, simclr_per_modality
from ..models.resnet18 import ResNet18Encoder
from ..symbols import SymbolCodec

MODALITY_CHANNELS = {"rgb": 3, "depth": 1}
PRETRAIN_METHODS = ("proposed", "simclr", "barlow_twins")


def modality_channels(name: str) -> int:
    if name not in MODALITY_CHANNELS:
        raise ValueError(f"unknown modality {name!r}; known: {', '.join(MODALITY_CHANNELS)}")
    return MODALITY_CHANNELS[name]


class MultiModalSystem(nn.Module):
    """Device encoders f^m, their channels, and the server classifier g."""

    def __init__(self, modalities: list[str], k: int, num_classes: int, width: int = 64, norm: str = "batch",
                 server_hidden: int = 256, channel: dict | None = None, feature_norm: str = "none"):
        super().__init__()
        if not modalities or len(set(modalities)) != len(modalities):
            raise ValueError(f"modalities must be distinct and at least one, got {modalities}")
        if k < 2 or k % 2:
            raise ValueError(f"K must be even (K/2 complex symbols per device), got {k}")
        self.modalities, self.k = list(modalities), int(k)
        self.encoders = nn.ModuleDict({m: ResNet18Encoder(modality_channels(m), k, width, norm, feature_norm)
                                       for m in modalities})
        self.server = nn.Sequential(nn.Linear(len(modalities) * k, server_hidden), nn.ReLU(),
                                    nn.Linear(server_hidden, num_classes))
        channel = dict(channel or {"name": "awgn"})
        self.channel = make_channel(channel.pop("name"), **channel)
        self.codec = SymbolCodec()   # analog symbols

    @property
    def symbols_per_sample(self) -> int:
        """Complex channel symbols one sample costs from all devices together (one direction)."""
        return len(self.modalities) * self.k // 2

    def device_snrs(self, snr_db) -> list[float]:
        snrs = list(snr_db) if isinstance(snr_db, (list, tuple)) else [snr_db] * len(self.modalities)
        if len(snrs) != len(self.modalities):
            raise ValueError(f"{len(snrs)} SNRs for {len(self.modalities)} devices ({', '.join(self.modalities)})")
        return [float(s) for s in snrs]

    def check_inputs(self, xs) -> None:
        if len(xs) != len(self.modalities):
            raise ValueError(f"the system has {len(self.modalities)} devices ({', '.join(self.modalities)}) "
                             f"but got {len(xs)} modalities")

    def encode(self, xs) -> list[torch.Tensor]:
        self.check_inputs(xs)
        return [self.encoders[m](x) for m, x in zip(self.modalities, xs)]

    def transmit(self, zs: list[torch.Tensor], snr_db) -> list[torch.Tensor]:
        """Eq. 2 per device: K reals -> K/2 unit-power complex symbols -> channel at its SNR -> K reals."""
        out = []
        for z, snr in zip(zs, self.device_snrs(snr_db)):
            if not bool(torch.isfinite(z).all()):
                raise FloatingPointError("a device produced a non-finite feature (NaN or inf input?)")
            s, side = self.codec.to_symbols(z)
            out.append(self.codec.from_symbols(self.channel(s, snr), side))
        return out

    def forward(self, xs, snr_db) -> torch.Tensor:
        return self.server(torch.cat(self.transmit(self.encode(xs), snr_db), dim=1))


class Projector(nn.Module):
    """The pre-training projector of Barlow Twins and SimCLR: Linear-BN-ReLU per hidden width, then a linear
    layer to the last width. It exists only during pre-training; the losses see its output, the channel
    never does."""

    def __init__(self, in_dim: int, widths: list[int]):
        super().__init__()
        layers, d = [], in_dim
        for w in widths[:-1]:
            layers += [nn.Linear(d, w, bias=False), nn.BatchNorm1d(w), nn.ReLU(inplace=True)]
            d = w
        layers.append(nn.Linear(d, widths[-1]))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class FeatureProjection(nn.Module):
    """One modality's projection for the losses. Without widths, the features themselves (the paper's
    equations as written). For the decoupled loss, the shared block z[:, :K_sha] and the unique block
    z[:, K_sha:] get projectors of their own, so the shared/unique split of the transmitted feature is kept:
    the loss's K_sha becomes the shared projector's width."""

    def __init__(self, k: int, widths: list[int], k_shared: int | None = None):
        super().__init__()
        self.k_shared = k_shared
        if not widths:
            self.blocks = nn.ModuleList()
            self.loss_k_shared = k_shared
        elif k_shared is None or k_shared >= k:
            self.blocks = nn.ModuleList([Projector(k, widths)])
            self.loss_k_shared = None if k_shared is None else widths[-1]
        else:
            self.blocks = nn.ModuleList([Projector(k_shared, widths), Projector(k - k_shared, widths)])
            self.loss_k_shared = widths[-1]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if len(self.blocks) == 0:
            return z
        if len(self.blocks) == 1:
            return self.blocks[0](z)
        return torch.cat([self.blocks[0](z[:, :self.k_shared]), self.blocks[1](z[:, self.k_shared:])], dim=1)


def _optimizer(params, cfg: dict, total_steps: int):
    if cfg["optimizer"] == "sgd":
        opt = torch.optim.SGD(params, lr=cfg["lr"], momentum=cfg["momentum"], weight_decay=cfg["weight_decay"])
    elif cfg["optimizer"] == "adam":
        opt = torch.optim.Adam(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    else:
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {cfg['optimizer']!r}")
    warmup = min(int(cfg.get("warmup_steps", 0)), max(0, total_steps - 1))
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, total_steps - warmup))
    if warmup:
        ramp = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1.0 / (warmup + 1), total_iters=warmup)
        sched = torch.optim.lr_scheduler.SequentialLR(opt, [ramp, cosine], milestones=[warmup])
    else:
        sched = cosine
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


class PretrainModule(L.LightningModule):
    """Stage I: label-free pre-training of the device encoders (no communication)."""

    def __init__(self, system: MultiModalSystem, cfg: dict, augment: dict, total_steps: int):
        super().__init__()
        if cfg["method"] not in PRETRAIN_METHODS:
            raise ValueError(f"pre-training method must be one of {', '.join(PRETRAIN_METHODS)}, got {cfg['method']!r}")
        # only the encoders train here (the server has nothing to learn without labels)
        self.encoders, self.modalities = system.encoders, system.modalities
        self.cfg, self.total_steps = cfg, total_steps
        widths = [int(w) for w in cfg.get("projector") or []]
        k_shared = int(cfg["k_shared"]) if cfg["method"] == "proposed" else None
        self.projections = nn.ModuleDict({m: FeatureProjection(system.k, widths, k_shared) for m in self.modalities})
        self.augment = MultiModalAugment(system.modalities, augment) if augment is not None else None
        self.losses: list[float] = []   # the loss of every step (of the global batch)

    def views(self, xs):
        if self.augment is None:        # no augmentation: both views are the sample itself
            return xs, xs
        return self.augment(xs), self.augment(xs)

    def pretrain_loss(self, xs) -> tuple[torch.Tensor, dict]:
        a, b = self.views(xs)
        za = [self.projections[m](self.encoders[m](x)) for m, x in zip(self.modalities, a)]
        zb = [self.projections[m](self.encoders[m](x)) for m, x in zip(self.modalities, b)]
        views = [(gather_batch(u), gather_batch(v)) for u, v in zip(za, zb)]
        c = self.cfg
        if c["method"] == "proposed":
            k_shared = self.projections[self.modalities[0]].loss_k_shared
            return decoupled_loss(views, k_shared, c["lam_intra"], c["lam_shared"], c["lam_unique"], c["center"])
        if c["method"] == "barlow_twins":
            return barlow_twins_per_modality(views, c["lam_intra"], c["center"])
        return simclr_per_modality(views, c["tau"])

    def training_step(self, batch, _):
        xs, _labels = batch
        loss, parts = self.pretrain_loss(xs)
        if not bool(torch.isfinite(loss)):
            raise FloatingPointError(f"pre-training loss became {loss.item()} at step {self.global_step}; "
                                     "lower pretrain.lr or check the data for NaN")
        self.losses.append(float(loss.detach()))
        self.log("pretrain/loss", loss, prog_bar=True)
        for name, value in parts.items():
            self.log(f"pretrain/{name}", value)
        return loss

    def on_train_epoch_end(self):
        if self.trainer.is_global_zero and self.losses:
            steps = max(1, self.trainer.num_training_batches)
            recent = self.losses[-steps:]
            print(f"pretrain: epoch {self.current_epoch + 1}/{self.trainer.max_epochs}, "
                  f"mean loss {sum(recent) / len(recent):.3f}", flush=True)

    def configure_optimizers(self):
        return _optimizer([*self.encoders.parameters(), *self.projections.parameters()], self.cfg, self.total_steps)


class FinetuneModule(L.LightningModule):
    """Stage II: supervised fine-tuning of encoders and server through the channel, counting rounds."""

    def __init__(self, system: MultiModalSystem, cfg: dict, augment: dict | None, snr_db):
        super().__init__()
        self.system, self.cfg = system, cfg
        self.snr_db = system.device_snrs(snr_db)
        self.augment = MultiModalAugment(system.modalities, augment, photometric=False) if augment else None
        self.eval_transform = EvalTransform(augment) if augment else None
        self.rounds = 0            # optimiser steps taken = communication rounds
        self.symbols = 0           # complex channel symbols exchanged (features up + gradients down)
        self.history: list[dict] = []
        self._correct = self._seen = 0

    def training_step(self, batch, _):
        xs, labels = batch
        if self.augment is not None:
            xs = self.augment(xs)
        loss = F.cross_entropy(self.system(xs, self.snr_db), labels)
        self.log("finetune/loss", loss, prog_bar=True)
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx):
        global_batch = len(batch[1]) * self.trainer.world_size
        self.rounds += 1
        self.symbols += 2 * global_batch * self.system.symbols_per_sample

    def validation_step(self, batch, _):
        xs, labels = batch
        if self.eval_transform is not None:
            xs = self.eval_transform(xs)
        pred = self.system(xs, self.snr_db).argmax(1)
        self._correct += int((pred == labels).sum())
        self._seen += len(labels)

    def on_train_start(self):
        """The accuracy before the first round (the starting point of every curve)."""
        self.eval()
        with torch.no_grad():
            for batch in self.trainer.val_dataloaders:
                self.validation_step([[x.to(self.device) for x in batch[0]], batch[1].to(self.device)], 0)
        self.train()
        self._record_accuracy()

    def on_validation_epoch_end(self):
        self._record_accuracy()

    def _record_accuracy(self):
        counts = torch.tensor([self._correct, self._seen], dtype=torch.float64, device=self.device)
        counts = self.trainer.strategy.reduce(counts, reduce_op="sum")
        self._correct = self._seen = 0
        if self.trainer.sanity_checking or counts[1] == 0:
            return
        accuracy = float(counts[0] / counts[1])
        self.log("val/acc", accuracy, prog_bar=True, rank_zero_only=True)
        point = {"round": self.rounds, "symbols": self.symbols, "accuracy": accuracy}
        if not self.history or self.history[-1]["round"] != self.rounds:
            self.history.append(point)

    def configure_optimizers(self):
        return _optimizer(self.system.parameters(), self.cfg, int(self.cfg["rounds"]))
