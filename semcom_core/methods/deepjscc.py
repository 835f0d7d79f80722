"""DeepJSCC: the SemCC-paper encoder/decoder trained with MSE over a range of training SNRs."""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F

from ..channels import make_channel
from ..metrics import psnr
from ..models import jscc_geometry
from .transceiver import Transceiver


def transceiver_specs(image_shape, ratio: float, width: int) -> tuple[dict, dict, int]:
    k = jscc_geometry(image_shape, ratio)["k"]
    common = {"image_shape": list(image_shape), "k": k, "width": width}
    return {"arch": "jscc_encoder", **common}, {"arch": "jscc_decoder", **common}, k


class DeepJSCC(L.LightningModule):
    """Lightning recipe: per-sample training SNR drawn uniformly from `train_snr_db`."""

    method_name = "deepjscc"

    def __init__(self, image_shape, ratio: float, width: int = 64, q: int | None = None,
                 channel: dict | None = None, train_snr_db=(0.0, 20.0), val_snr_db: float = 10.0,
                 lr: float = 1e-3, step_epochs: int = 50, gamma: float = 0.5):
        super().__init__()
        self.save_hyperparameters()
        enc, dec, k = transceiver_specs(image_shape, ratio, width)
        self.transceiver = Transceiver(enc, dec, k, q)
        channel = dict(channel or {"name": "awgn"})
        self.channel = make_channel(channel.pop("name"), **channel)

    def sample_snr(self, batch_size: int) -> torch.Tensor:
        lo, hi = self.hparams.train_snr_db
        return lo + (hi - lo) * torch.rand(batch_size, device=self.device)

    def training_step(self, batch, _):
        x, _labels = batch
        x_hat = self.transceiver(x, self.channel, self.sample_snr(x.shape[0]))
        loss = F.mse_loss(x_hat, x)
        self.log("train/mse", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, _):
        x, _labels = batch
        x_hat = self.transceiver(x, self.channel, float(self.hparams.val_snr_db))
        self.log("val/psnr", psnr(x_hat, x).mean(), prog_bar=True)

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.transceiver.parameters(), lr=self.hparams.lr)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=self.hparams.step_epochs, gamma=self.hparams.gamma)
        return {"optimizer": opt, "lr_scheduler": sched}
