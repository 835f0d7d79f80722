"""MIJSCC and A-MIJSCC: JSCC trained with MSE minus Jensen-Shannon mutual information (the MIJSCC paper).

MIJSCC (eq. 18, Algorithms 1-2): the encoder (Table I) maps an image to z; z goes through the shared
symbol codec (analog or q-bit quantised with straight-through gradients) and the channel at an SNR drawn
per sample from ``train_snr_db`` ([6, 21] dB in the paper) to the decoder. Two discriminators (Table II)
estimate the global MI between the image and z (eq. 15) and the local MI between the encoder's feature map
and z (eq. 17), with fake pairs made by shuffling over the batch (Algorithm 1). Encoder, decoder and
discriminators minimise MSE - lam (mu1 global + mu2 local) together. No label is used: classification comes
afterwards, from the received z (:mod:`.latent_classifier`).

A-MIJSCC (Sec. IV, Algorithm 3) adds the noise-adaptive channel mask and the attention enhancement
(:class:`~semcom_core.models.adaptive_mask.AdaptiveMask`) between encoder and codec. The mask switches off
whole complex symbols at the end of the latent; only the number of leading symbols sent (``end``) is side
information and the receiver zero-fills the rest. It is fine-tuned from a trained MIJSCC (``init_from``)
with the same loss.
"""

from __future__ import annotations

import itertools

import torch

from ..channels.base import noise_variance
from ..losses.mutual_information import global_mi, local_mi, mijscc_loss
from ..metrics import psnr
from ..models.adaptive_mask import AdaptiveMask, mask_from_end_index
from ..models.mijscc import GlobalDiscriminator, LocalDiscriminator
from ..symbols import SymbolCodec
from .base import JSCCMethod

__all__ = ["MIJSCC", "AMIJSCC", "latent_to_symbols", "symbols_to_latent", "send_latent", "make_adaptive_mask"]


def latent_to_symbols(codec: SymbolCodec, z: torch.Tensor, end: torch.Tensor | None = None):
    """z [B, 2k] -> (symbols [B, k], codec side information). With ``end`` [B] (A-MIJSCC) only the first
    ``end`` symbols count as sent; analog symbols are then scaled so that each *sent* symbol has unit average
    power (the masked ones carry no energy), as the quantised constellation has by construction."""
    s, side = codec.to_symbols(z)
    if end is not None and codec.q is None:
        s = s * (end.to(s.real.dtype) / s.shape[1]).sqrt().unsqueeze(1)
    return s, side


def symbols_to_latent(codec: SymbolCodec, y: torch.Tensor, side: dict, end: torch.Tensor | None = None) -> torch.Tensor:
    """Received symbols [B, k] -> latent [B, 2k]; with ``end``, everything after the first ``end`` symbols
    is zero-filled (it was never sent)."""
    z_hat = codec.from_symbols(y, side)
    if end is None:
        return z_hat
    return z_hat * mask_from_end_index(end, y.shape[1]).to(z_hat.device).repeat_interleave(2, dim=1)


def send_latent(codec: SymbolCodec, channel, z: torch.Tensor, snr_db, end: torch.Tensor | None = None) -> torch.Tensor:
    """z [B, 2k] -> the latent the receiver holds, through codec and channel (prefix of ``end`` symbols)."""
    s, side = latent_to_symbols(codec, z, end)
    return symbols_to_latent(codec, channel(s, snr_db), side, end)


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

    # --- the link: what A-MIJSCC changes -----------------------------------------------------------
    def prepare(self, z: torch.Tensor, snr_db) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The latent to send and the number of symbols sent per sample (None: all k)."""
        return z, None

    def receive_latent(self, z: torch.Tensor, snr_db) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder outputs [B, 2k] -> (latent at the receiver [B, 2k], active fraction gamma [B])."""
        z_sent, end = self.prepare(z, snr_db)
        z_hat = send_latent(self.transceiver.codec, self.channel, z_sent, snr_db, end)
        gamma = torch.ones(z.shape[0], device=z.device) if end is None else end.float() / self.transceiver.k
        return z_hat, gamma

    def received_latent(self, x: torch.Tensor, snr_db) -> tuple[torch.Tensor, torch.Tensor]:
        """Images -> (latent at the receiver [B, 2k], active fraction gamma [B]); classifiers read this."""
        return self.receive_latent(self.transceiver.encoder(x), snr_db)

    # --- training ------------------------------------------------------------------------------------
    def training_loss(self, x, labels):
        t = self.transceiver
        snr = self.sample_snr(x.shape[0])
        z, features = t.encoder(x, return_features=True)
        z_sent, end = self.prepare(z, snr)
        x_hat = t.decoder(send_latent(t.codec, self.channel, z_sent, snr, end))
        cfg = self.loss_cfg
        total, parts = mijscc_loss(x, x_hat, global_mi(self.global_disc, x, z_sent),
                                   local_mi(self.local_disc, features, z_sent),
                                   float(cfg.get("lam", 0.01)), float(cfg.get("mu1", 0.01)), float(cfg.get("mu2", 1.0)))
        if end is not None:
            parts["gamma"] = end.float().mean() / t.k
        return total, parts

    def validation_step(self, batch, _):
        x, labels = batch
        z_hat, gamma = self.received_latent(x, float(self.hparams.val_snr_db))
        x_hat = self.transceiver.decoder(z_hat)
        self.log("val/psnr", psnr(x_hat, x).mean(), prog_bar=True)
        self.log("val/gamma", gamma.mean())
        if self.downstream is not None:
            self.log("val/acc", (self.downstream(x_hat).argmax(1) == labels).float().mean(), prog_bar=True)


class AMIJSCC(MIJSCC):
    """MIJSCC + noise-adaptive channel mask and attention enhancement (loss keys: eta, attention,
    mask_hidden, temperature)."""

    method_name = "a-mijscc"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.adaptive = make_adaptive_mask(self.transceiver.k, self.loss_cfg)

    def trainable_parameters(self):
        return itertools.chain(super().trainable_parameters(), self.adaptive.parameters())

    def prepare(self, z, snr_db):
        noise_var = noise_variance(snr_db, z.shape[0], z.device).squeeze(1)
        out = self.adaptive(z, noise_var)
        return out.z, out.end
