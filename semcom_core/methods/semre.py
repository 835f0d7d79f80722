"""SemRE: semantic re-encoding when the downstream model is out of reach (Algorithm 2 of the SemCC paper).

A receiver-side copy of the encoder (theta_r) re-encodes the reconstruction; the transmitted symbols s
and the power-normalised re-encoding s_r are projected onto the unit sphere, and the supervised
contrastive loss of eq. 13 (positives: same-class views) replaces InfoNCE in
L1 = alpha * MSE + (1 - alpha) * L_sem,R. The copy takes no gradient; every `update_every` epochs it
moves towards the encoder, theta_r <- beta * theta_r + (1 - beta) * theta (eq. 14).

Two switches serve the ablations that locate SemRE's weaknesses (README, SemCC section):
``update_unit`` "step" applies eq. 14 every ``update_every`` optimiser steps instead of epochs (a re-encoder
that follows the encoder closely even in a short run); ``semantic_views`` "transmitted" leaves the
re-encoding out and contrasts the transmitted symbols alone (so only the encoder gets a semantic gradient).
"""

from __future__ import annotations

import copy
import itertools

import torch

from ..losses import ProjectionHead, soft_update, supervised_contrastive
from ..symbols import complex_to_real
from .base import FrozenModel, JSCCMethod, resolve_alpha


class SemRE(JSCCMethod):
    method_name = "semre"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.re_encoder = FrozenModel(copy.deepcopy(self.transceiver.encoder))
        self.projection = ProjectionHead(2 * self.transceiver.k, int(self.loss_cfg.get("proj_hidden", 128)),
                                         int(self.loss_cfg.get("proj_dim", 32)))

    def trainable_parameters(self):
        return itertools.chain(self.transceiver.parameters(), self.projection.parameters())

    def re_encode(self, x_hat: torch.Tensor) -> torch.Tensor:
        """The receiver's re-encoding, through the same symbol codec (power normalisation, eq. 2)."""
        s_r, _side = self.transceiver.codec.to_symbols(self.re_encoder(x_hat))
        return s_r

    def training_loss(self, x, labels):
        alpha = resolve_alpha(self.loss_cfg.get("alpha", "ratio"), self.hparams.ratio)
        s, x_hat = self.transceiver.transmit_receive(x, self.channel, self.sample_snr(x.shape[0]))
        mse = self.reconstruction_loss(x_hat, x)
        if self.loss_cfg.get("semantic_views", "both") == "transmitted":
            views, view_labels = complex_to_real(s), labels
        else:
            views = torch.cat([complex_to_real(s), complex_to_real(self.re_encode(x_hat))])
            view_labels = torch.cat([labels, labels])
        sem = supervised_contrastive(self.projection(views), view_labels, float(self.loss_cfg.get("tau", 0.1)),
                                     str(self.loss_cfg.get("denominator", "negatives")))
        return alpha * mse + (1 - alpha) * sem, {"rec": mse, "sem": sem}

    def _soft_update(self, count: int, unit: str) -> None:
        if self.loss_cfg.get("update_unit", "epoch") == unit and count % int(self.loss_cfg.get("update_every", 1)) == 0:
            soft_update(self.re_encoder.net, self.transceiver.encoder, float(self.loss_cfg.get("beta", 0.9)))

    def on_train_batch_end(self, *_args):
        self._soft_update(self.global_step, "step")

    def on_train_epoch_end(self):
        self._soft_update(self.current_epoch + 1, "epoch")
