"""SemCC: semantic contrastive coding (Algorithm 1 of the SemCC paper).

Stage "pretrain": the channel is the data augmentation. Originals x and reconstructions x_hat go
through the frozen downstream backbone and a projection head onto the unit sphere; InfoNCE over the
2B views (eq. 8) pulls each x towards its own x_hat and away from the rest of the batch.
L1 = alpha1 * MSE + (1 - alpha1) * L_sem (eq. 10); encoder, decoder and head are trained.
Stage "finetune": L2 = alpha2 * MSE + (1 - alpha2) * CE through the frozen classifier (eq. 11), at a
small learning rate; encoder and decoder only.
"""

from __future__ import annotations

import itertools

import torch

from ..losses import ProjectionHead, info_nce
from .base import JSCCMethod, Stage, resolve_alpha


class SemCC(JSCCMethod):
    method_name = "semcc"
    needs_downstream = True

    def stages(self) -> list[Stage]:
        h, ft = self.hparams, dict(self.hparams.finetune or {})
        plan = [Stage("pretrain", int(h.epochs), h.lr, h.step_epochs, h.gamma),
                Stage("finetune", int(ft.get("epochs", 0)), float(ft.get("lr", 1e-4)),
                      int(ft.get("step_epochs", 50)), float(ft.get("gamma", 0.5)))]
        return [s for s in plan if s.epochs > 0]

    def attach_downstream(self, classifier):
        super().attach_downstream(classifier)
        with torch.no_grad():
            feature_dim = self.downstream.features(torch.zeros(1, *self.hparams.image_shape)).shape[1]
        self.projection = ProjectionHead(feature_dim, int(self.loss_cfg.get("proj_hidden", 128)),
                                         int(self.loss_cfg.get("proj_dim", 32))).to(self.device)

    def trainable_parameters(self):
        if self.stage == "pretrain":
            return itertools.chain(self.transceiver.parameters(), self.projection.parameters())
        return self.transceiver.parameters()

    def semantic_loss(self, x, x_hat):
        views = torch.cat([x, x_hat])
        return info_nce(self.projection(self.downstream.features(views)), float(self.loss_cfg.get("tau", 0.1)))

    def training_loss(self, x, labels):
        if self.downstream is None:
            raise RuntimeError("SemCC needs the downstream classifier (attach_downstream)")
        x_hat = self.transceiver(x, self.channel, self.sample_snr(x.shape[0]))
        mse = self.reconstruction_loss(x_hat, x)
        if self.stage == "pretrain":
            alpha1 = resolve_alpha(self.loss_cfg.get("alpha", "ratio"), self.hparams.ratio)
            sem = self.semantic_loss(x, x_hat)
            return alpha1 * mse + (1 - alpha1) * sem, {"rec": mse, "sem": sem}
        alpha2 = resolve_alpha(self.loss_cfg.get("alpha2", "ratio"), self.hparams.ratio)
        task = self.task_loss(x_hat, labels)
        return alpha2 * mse + (1 - alpha2) * task, {"rec": mse, "task": task}
