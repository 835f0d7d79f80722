"""What every JSCC method shares: the transceiver, the training channel and SNR, validation, stages.

A method subclasses :class:`JSCCMethod` and writes `training_loss`; multi-stage recipes (SemCC)
list their stages and `semcom_core.runs.image` fits them one after the other, each with a fresh
optimiser at the stage's learning rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from ..channels import make_channel
from ..metrics import psnr
from ..link import Transceiver, transceiver_specs


#: seed of the random numbers (SNRs, noise) of every validation pass
VALIDATION_SEED = 1234


def monitor_mode(monitor: str) -> str:
    """"min" for a loss, "max" for a quality (``val/psnr``, ``val/acc``)."""
    return "min" if monitor.endswith("loss") else "max"


@dataclass(frozen=True)
class Stage:
    name: str
    epochs: int
    lr: float
    step_epochs: int
    gamma: float


class FrozenModel(nn.Module):
    """A pre-trained network used as a fixed function: no gradients to its weights, always in eval
    mode (so BatchNorm statistics never move), while gradients still flow through it to its input."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True):  # noqa: ARG002 - stays in eval whatever Lightning asks
        self.net.eval()
        return self

    def forward(self, x):
        return self.net(x)

    def features(self, x):
        return self.net.features(x)


def resolve_alpha(value, ratio: float) -> float:
    """A loss weight given as a number in [0, 1] or as "ratio" (= k/n, the paper's default)."""
    alpha = ratio if value == "ratio" else float(value)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"loss weight alpha must be in [0, 1] or 'ratio', got {value!r}")
    return alpha


class JSCCMethod(L.LightningModule):
    """Transceiver + channel + a per-sample training SNR drawn uniformly from `train_snr_db`."""

    method_name = "jscc"
    architecture = "jscc"     # encoder/decoder family (models registry: "<architecture>_encoder")
    needs_downstream = False  # True when training back-propagates through the downstream classifier

    def __init__(self, image_shape, ratio: float, width: int = 64, q: int | None = None,
                 channel: dict | None = None, train_snr_db=(0.0, 20.0), val_snr_db: float = 10.0,
                 lr: float = 1e-3, step_epochs: int = 50, gamma: float = 0.5, epochs: int = 1,
                 loss: dict | None = None, finetune: dict | None = None, schedule: str = "step",
                 plateau_patience: int = 1, monitor: str = "val/loss"):
        super().__init__()
        self.save_hyperparameters()
        enc, dec, k = transceiver_specs(image_shape, ratio, width, self.architecture)
        self.transceiver = Transceiver(enc, dec, k, q)
        channel = dict(channel or {"name": "awgn"})
        self.channel = make_channel(channel.pop("name"), **channel)
        self.loss_cfg = dict(loss or {})
        self.downstream: FrozenModel | None = None
        plan = self.stages()
        self.stage = plan[0].name if plan else None

    # --- configuration -------------------------------------------------------------------------
    def stages(self) -> list[Stage]:
        """The training stages in order (stages of zero epochs are left out)."""
        h = self.hparams
        return [s for s in [Stage("train", int(h.epochs), h.lr, h.step_epochs, h.gamma)] if s.epochs > 0]

    def attach_downstream(self, classifier: nn.Module) -> None:
        """The pre-trained downstream classifier: used by the loss where the method needs it, and
        for the validation accuracy of every method."""
        self.downstream = FrozenModel(classifier)

    def trainable_parameters(self):
        return self.transceiver.parameters()

    def current_stage(self) -> Stage:
        return next(s for s in self.stages() if s.name == self.stage)

    # --- training ------------------------------------------------------------------------------
    def sample_snr(self, batch_size: int) -> torch.Tensor:
        lo, hi = self.hparams.train_snr_db
        return lo + (hi - lo) * torch.rand(batch_size, device=self.device)

    def training_loss(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict]:
        raise NotImplementedError

    def compile_loss(self) -> None:
        """Run the training objective (training and validation) through ``torch.compile``: the same
        computation in fewer, fused kernels. Each stage and each batch size (training, validation, the last
        validation batch) pays a compilation first; shapes stay static (the channel's complex noise does not
        trace with a symbolic batch size)."""
        self.training_loss = torch.compile(self.training_loss, dynamic=False)

    def training_step(self, batch, _):
        x, labels = batch
        loss, parts = self.training_loss(x, labels)
        self.log("train/loss", loss, prog_bar=True)
        for name, value in parts.items():
            self.log(f"train/{name}", value)
        return loss

    def reconstruction_loss(self, x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Eq. 9. "mean": (1/n)||x - x_hat||^2 per image, as written; "sum": ||x - x_hat||^2 per image
        (n times larger, which gives the reconstruction term more weight against the semantic and
        task terms at the same alpha). Averaged over the batch either way."""
        mse = F.mse_loss(x_hat, x)
        return mse * x[0].numel() if self.loss_cfg.get("rec_reduction", "mean") == "sum" else mse

    def task_loss(self, x_hat: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.downstream is None:
            raise RuntimeError(f"{self.method_name} needs the downstream classifier (attach_downstream)")
        return F.cross_entropy(self.downstream(x_hat), labels)

    def on_validation_epoch_start(self):
        """Every validation draws the same SNRs and noise, so that epochs differ only by their weights
        (early stopping compares them); the training stream of random numbers is left as it was."""
        self._training_rng = torch.get_rng_state()
        torch.manual_seed(VALIDATION_SEED)

    def on_validation_epoch_end(self):
        torch.set_rng_state(self._training_rng)

    def log_validation_loss(self, x: torch.Tensor, labels: torch.Tensor) -> None:
        """``val/loss``: the method's own training objective on validation images (at training SNRs),
        what early stopping and the plateau schedule watch by default."""
        loss, _parts = self.training_loss(x, labels)
        self.log("val/loss", loss, prog_bar=True, sync_dist=True)

    def validation_step(self, batch, _):
        x, labels = batch
        self.log_validation_loss(x, labels)
        x_hat = self.transceiver(x, self.channel, float(self.hparams.val_snr_db))
        self.log("val/psnr", psnr(x_hat, x).mean(), prog_bar=True, sync_dist=True)
        if self.downstream is not None:
            self.log("val/acc", (self.downstream(x_hat).argmax(1) == labels).float().mean(), prog_bar=True,
                     sync_dist=True)

    def configure_optimizers(self):
        """Adam at the stage's learning rate; "step": times ``gamma`` every ``step_epochs``; "plateau": times
        ``gamma`` once the monitored validation value has not improved for ``plateau_patience`` epochs."""
        stage, h = self.current_stage(), self.hparams
        opt = torch.optim.Adam(self.trainable_parameters(), lr=stage.lr)
        if h.get("schedule", "step") == "plateau":
            monitor = h.get("monitor", "val/loss")
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, mode=monitor_mode(monitor), factor=stage.gamma, patience=int(h.get("plateau_patience", 1)))
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": monitor}}
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=stage.step_epochs, gamma=stage.gamma)
        return {"optimizer": opt, "lr_scheduler": sched}
