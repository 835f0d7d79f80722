"""Downstream classifier trained on clean images (the receiver's task model)."""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F

from ..models import build_model


def augment_batch(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random 4-pixel-padded crop and horizontal flip, batched (the standard CIFAR recipe)."""
    b, _, h, w = x.shape
    padded = F.pad(x, (4, 4, 4, 4))
    dy = torch.randint(0, 9, (b,), generator=generator)
    dx = torch.randint(0, 9, (b,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None]).view(b, 1, h, 1).expand(b, x.shape[1], h, w)
    cols = (dx[:, None] + torch.arange(w)[None]).view(b, 1, 1, w).expand(b, x.shape[1], h, w)
    out = padded[torch.arange(b)[:, None, None, None], torch.arange(x.shape[1])[None, :, None, None], rows, cols]
    flip = torch.rand(b, generator=generator) < 0.5
    out[flip] = out[flip].flip(-1)
    return out


class ClassifierModule(L.LightningModule):
    def __init__(self, spec: dict, lr: float = 1e-3, max_epochs: int = 30, augment: bool = True):
        super().__init__()
        self.save_hyperparameters()
        self.net = build_model(spec)

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, _):
        x, y = batch
        if self.hparams.augment:
            x = augment_batch(x)
        loss = F.cross_entropy(self.net(x), y)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, _):
        x, y = batch
        logits = self.net(x)
        self.log("val/acc", (logits.argmax(1) == y).float().mean(), prog_bar=True, sync_dist=True)
        self.log("val/loss", F.cross_entropy(logits, y), sync_dist=True)

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, self.hparams.max_epochs))
        return {"optimizer": opt, "lr_scheduler": sched}
