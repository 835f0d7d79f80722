"""MIJSCC and A-MIJSCC: JSCC trained with MSE minus Jensen-Shannon mutual information (the MIJSCC paper).

MIJSCC (eq. 18, Algorithms 1-2): the encoder (Table I) maps an image to z; z goes through the shared
symbol codec (analog or q-bit quantised with straight-through gradients) and the channel at an SNR drawn
per sample from ``train_snr_db`` ([6, 21] dB in the paper) to the decoder. Two discriminators (Table II)
estimate the global MI between the image and z (eq. 15) and the local MI between the encoder's feature map
and z (eq. 17), with fake pairs made by shuffling over the batch (Algorithm 1). Encoder, decoder and
discriminators minimise MSE - lam (mu1 global + mu2 local) together. No label is used: classification comes
afterwards, from the received z (:mod:`.latent_classifier`).

A-MIJSCC (Sec. IV, Algorithm 3) adds the noise-adaptive channel mask and the attention enhancement
(:class:`~semcom_core.models.adaptive_mask.AdaptiveMask`) between encoder and codec, as the
transceiver's ``mask`` (:mod:`semcom_core.link`). The mask switches off
whole complex symbols at the end of the latent; only the number of leading symbols sent (``end``) is side
information and the receiver zero-fills the rest. It is fine-tuned from a trained MIJSCC (``init_from``)
with the same loss.
"""

from __future__ import annotations

import itertools

import torch

from ..losses.mutual_information import global_mi, local_mi, mijscc_loss
from ..metrics import psnr
from ..models.adaptive_mask import AdaptiveMask
from ..models.mijscc import GlobalDiscriminator, LocalDiscriminator
from .base import JSCCMethod

__all__ = ["MIJSCC", "AMIJSCC", "make_adaptive_mask"]


def make_adaptive_mask(k: int, cfg: dict) -> AdaptiveMask:
    """The A-MIJSCC mask over k complex symbols from the ``loss`` config (eta, mask_hidden, temperature,
    attention)."""
    return AdaptiveMask(k, float(cfg.get("eta", 1.2)), int(cfg.get("mask_hidden", 64)),
                        temperature=float(cfg.get("temperature", 0.5)), attention=bool(cfg.get("attention", True)),
                        values_per_unit=2)


class MIJSCC(JSCCMethod):
    method_name = "mijscc"
    architecture = "mijscc"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        h, enc = self.hparams, self.transceiver.encoder
        hidden = int(self.loss_cfg.get("disc_hidden", 512))
        self.global_disc = GlobalDiscriminator(h.image_shape, self.transceiver.k, h.width, hidden)
        self.local_disc = LocalDiscriminator(enc.feature_shape[0], self.transceiver.k, hidden)

    def trainable_parameters(self):
        return itertools.chain(self.transceiver.parameters(), self.global_disc.parameters(),
                               self.local_disc.parameters())

    # --- the link (A-MIJSCC adds its mask to the transceiver) ------------------------------------------------
    def receive_latent(self, z: torch.Tensor, snr_db) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder outputs [B, 2k] -> (latent at the receiver [B, 2k], active fraction gamma [B])."""
        sent, z_hat = self.transceiver.send_through(z, self.channel, snr_db)
        return z_hat, sent.side.end.float() / self.transceiver.k

    def received_latent(self, x: torch.Tensor, snr_db) -> tuple[torch.Tensor, torch.Tensor]:
        """Images -> (latent at the receiver [B, 2k], active fraction gamma [B]); classifiers read this."""
        return self.receive_latent(self.transceiver.encoder(x), snr_db)

    # --- training ------------------------------------------------------------------------------------
    def training_loss(self, x, labels):
        t = self.transceiver
        snr = self.sample_snr(x.shape[0])
        z, features = t.encoder(x, return_features=True)
        sent, z_hat = t.send_through(z, self.channel, snr)
        x_hat = t.decoder(z_hat)
        cfg = self.loss_cfg
        total, parts = mijscc_loss(x, x_hat, global_mi(self.global_disc, x, sent.z),
                                   local_mi(self.local_disc, features, sent.z),
                                   float(cfg.get("lam", 0.01)), float(cfg.get("mu1", 0.01)), float(cfg.get("mu2", 1.0)))
        if t.mask is not None:
            parts["gamma"] = sent.side.end.float().mean() / t.k
        return total, parts

    def validation_step(self, batch, _):
        x, labels = batch
        self.log_validation_loss(x, labels)
        z_hat, gamma = self.received_latent(x, float(self.hparams.val_snr_db))
        x_hat = self.transceiver.decoder(z_hat)
        self.log("val/psnr", psnr(x_hat, x).mean(), prog_bar=True, sync_dist=True)
        self.log("val/gamma", gamma.mean(), sync_dist=True)
        if self.downstream is not None:
            self.log("val/acc", (self.downstream(x_hat).argmax(1) == labels).float().mean(), prog_bar=True,
                     sync_dist=True)


class AMIJSCC(MIJSCC):
    """MIJSCC + noise-adaptive channel mask and attention enhancement (loss keys: eta, attention,
    mask_hidden, temperature). The mask is part of the transceiver (``transceiver.mask``)."""

    method_name = "a-mijscc"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.transceiver.mask = make_adaptive_mask(self.transceiver.k, self.loss_cfg)
